//! Friends: requests by id or e-mail, accepting, declining, removing, the
//! limits, privacy between people, and `check_friends` for group holds.

use reqwest::Method;
use serde_json::{Value, json};
use stampede_server::routes::friends::check_friends;
use stampede_server::{App, ServerConfig};
use stampede_store::{MAX_FRIENDS_PER_USER, MAX_OUTGOING_REQUESTS_PER_USER, UserId};

use crate::common::{ADMIN, Resp, Server, User};

const FRIENDS: &str = "/api/me/friends";

async fn ask(s: &Server, from: &User, to: &User) -> Resp {
    s.post(FRIENDS, Some(&from.token), json!({"user_id": to.id})).await
}

async fn accept(s: &Server, me: &User, from: &User) -> Resp {
    s.post_empty(&format!("{FRIENDS}/{}/accept", from.id), Some(&me.token)).await
}

async fn decline(s: &Server, me: &User, from: &User) -> Resp {
    s.post_empty(&format!("{FRIENDS}/{}/decline", from.id), Some(&me.token)).await
}

async fn remove(s: &Server, me: &User, other: &User) -> Resp {
    s.delete(&format!("{FRIENDS}/{}", other.id), Some(&me.token)).await
}

async fn list(s: &Server, me: &User) -> Value {
    s.get(FRIENDS, Some(&me.token)).await.ok(200)
}

/// The ids in one of the lists of `GET /api/me/friends`.
fn ids(v: &Value, key: &str) -> Vec<u64> {
    v[key].as_array().unwrap_or_else(|| panic!("no {key} in {v}")).iter().filter_map(|p| p["id"].as_u64()).collect()
}

/// A bulk user's address, as `Store::bulk_create` makes it.
fn email_of(prefix: &str, u: &User) -> String {
    format!("{}-{}@bulk.invalid", prefix.to_lowercase(), u.id)
}

/// Nothing but the listed keys: no e-mail address of anyone else leaks.
#[track_caller]
fn only_keys(v: &Value, keys: &[&str]) {
    let mut got: Vec<&str> =
        v.as_object().unwrap_or_else(|| panic!("not an object: {v}")).keys().map(|k| k.as_str()).collect();
    got.sort_unstable();
    let mut want = keys.to_vec();
    want.sort_unstable();
    assert_eq!(got, want, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_then_accept_and_both_see_each_other() {
    let s = Server::start().await;
    let users = s.users(2, "Pal").await;
    let (a, b) = (&users[0], &users[1]);

    let sent = ask(&s, a, b).await.ok(201);
    assert_eq!(sent, json!({"state": "requested", "user": {"id": b.id, "name": b.name}}));
    let la = list(&s, a).await;
    assert_eq!((ids(&la, "friends"), ids(&la, "incoming"), ids(&la, "outgoing")), (vec![], vec![], vec![b.id]));
    assert_eq!(la["incoming_total"], 0);
    only_keys(&la["outgoing"][0], &["id", "name", "requested_at"]);
    let lb = list(&s, b).await;
    assert_eq!((ids(&lb, "friends"), ids(&lb, "incoming"), ids(&lb, "outgoing")), (vec![], vec![a.id], vec![]));
    assert_eq!(lb["incoming_total"], 1);
    assert_eq!(lb["incoming"][0]["name"], a.name);

    let accepted = accept(&s, b, a).await.ok(200);
    assert_eq!(accepted, json!({"state": "friends", "user": {"id": a.id, "name": a.name}}));
    for (me, other) in [(a, b), (b, a)] {
        let l = list(&s, me).await;
        assert_eq!(ids(&l, "friends"), vec![other.id]);
        assert_eq!(ids(&l, "incoming"), Vec::<u64>::new());
        assert_eq!(ids(&l, "outgoing"), Vec::<u64>::new());
        only_keys(&l["friends"][0], &["id", "name", "since"]);
        assert_eq!(l["friends"][0]["name"], other.name);
        assert!(l["friends"][0]["since"].as_str().is_some_and(|t| t.ends_with('Z')), "{l}");
    }

    // Again, either way, says what is true.
    ask(&s, a, b).await.problem(409, "/problems/already-friends");
    ask(&s, b, a).await.problem(409, "/problems/already-friends");
    accept(&s, b, a).await.problem(409, "/problems/already-friends");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_by_email_and_crossed_requests_become_friends() {
    let s = Server::start().await;
    let users = s.users(2, "Mail").await;
    let (a, b) = (&users[0], &users[1]);
    // Any case, surrounding spaces: the address is normalized.
    let email = format!("  {}  ", email_of("Mail", b).to_uppercase());
    let sent = s.post(FRIENDS, Some(&a.token), json!({"email": email})).await.ok(201);
    assert_eq!(sent, json!({"state": "requested", "user": {"id": b.id, "name": b.name}}));
    s.post(FRIENDS, Some(&a.token), json!({"email": email_of("Mail", b)}))
        .await
        .problem(409, "/problems/friend-request-exists");
    // b asks a back: both wanted it, so they are friends at once.
    let crossed = s.post(FRIENDS, Some(&b.token), json!({"email": email_of("Mail", a)})).await.ok(200);
    assert_eq!(crossed, json!({"state": "friends", "user": {"id": a.id, "name": a.name}}));
    assert_eq!(ids(&list(&s, a).await, "friends"), vec![b.id]);
    assert_eq!(ids(&list(&s, b).await, "friends"), vec![a.id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decline_deletes_the_request() {
    let s = Server::start().await;
    let users = s.users(2, "No").await;
    let (a, b) = (&users[0], &users[1]);
    ask(&s, a, b).await.ok(201);
    // The sender cannot decline their own request.
    decline(&s, a, b).await.problem(404, "/problems/not-found");
    let r = decline(&s, b, a).await;
    assert_eq!(r.status, 204, "{}", r.body);
    for u in [a, b] {
        let l = list(&s, u).await;
        assert_eq!(l, json!({"friends": [], "incoming": [], "incoming_total": 0, "outgoing": []}));
    }
    decline(&s, b, a).await.problem(404, "/problems/not-found");
    accept(&s, b, a).await.problem(404, "/problems/not-found");
    // Declined is not blocked: a may ask again.
    ask(&s, a, b).await.ok(201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_ends_a_friendship_or_withdraws_a_request() {
    let s = Server::start().await;
    let users = s.users(3, "Rm").await;
    let (a, b, c) = (&users[0], &users[1], &users[2]);
    ask(&s, a, b).await.ok(201);
    accept(&s, b, a).await.ok(200);
    let r = remove(&s, b, a).await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(ids(&list(&s, a).await, "friends"), Vec::<u64>::new());
    assert_eq!(ids(&list(&s, b).await, "friends"), Vec::<u64>::new());
    remove(&s, a, b).await.problem(404, "/problems/not-found");

    ask(&s, a, c).await.ok(201);
    // The recipient declines; DELETE is for one's own request.
    remove(&s, c, a).await.problem(404, "/problems/not-found");
    let r = remove(&s, a, c).await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(ids(&list(&s, a).await, "outgoing"), Vec::<u64>::new());
    assert_eq!(ids(&list(&s, c).await, "incoming"), Vec::<u64>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_unknown_and_malformed_requests_are_refused() {
    let s = Server::start().await;
    let users = s.users(2, "Odd").await;
    let (a, b) = (&users[0], &users[1]);
    ask(&s, a, a).await.problem(422, "/problems/cannot-befriend-self");
    s.post(FRIENDS, Some(&a.token), json!({"email": email_of("Odd", a)}))
        .await
        .problem(422, "/problems/cannot-befriend-self");
    s.post(FRIENDS, Some(&a.token), json!({"user_id": 999_999})).await.problem(404, "/problems/not-found");
    s.post(FRIENDS, Some(&a.token), json!({"email": "nobody@example.com"})).await.problem(404, "/problems/not-found");
    for body in [json!({}), json!({"user_id": b.id, "email": email_of("Odd", b)}), json!({"user_id": null})] {
        s.post(FRIENDS, Some(&a.token), body).await.problem(422, "/problems/invalid-field");
    }
    s.post(FRIENDS, Some(&a.token), json!({"user_id": -1})).await.problem(400, "/problems/malformed-json");
    s.post_raw(FRIENDS, Some(&a.token), "{").await.problem(400, "/problems/malformed-json");
    for path in [format!("{FRIENDS}/abc/accept"), format!("{FRIENDS}/999999/accept"), format!("{FRIENDS}/-1/decline")] {
        s.post_empty(&path, Some(&a.token)).await.problem(404, "/problems/not-found");
    }
    s.delete(&format!("{FRIENDS}/999999"), Some(&a.token)).await.problem(404, "/problems/not-found");
    assert_eq!(list(&s, a).await, json!({"friends": [], "incoming": [], "incoming_total": 0, "outgoing": []}));
    assert_eq!(list(&s, b).await, json!({"friends": [], "incoming": [], "incoming_total": 0, "outgoing": []}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_in_people_only_and_not_the_operator() {
    let s = Server::start().await;
    let users = s.users(1, "Who").await;
    s.get(FRIENDS, None).await.problem(401, "/problems/unauthenticated");
    s.post(FRIENDS, None, json!({"user_id": users[0].id})).await.problem(401, "/problems/unauthenticated");
    s.post_empty(&format!("{FRIENDS}/1/accept"), None).await.problem(401, "/problems/unauthenticated");
    s.delete(&format!("{FRIENDS}/1"), Some("stp_wrong")).await.problem(401, "/problems/unauthenticated");
    // The operator token is not an account: it has no friends to manage.
    s.get(FRIENDS, Some(ADMIN)).await.problem(403, "/problems/forbidden");
    s.post(FRIENDS, Some(ADMIN), json!({"user_id": users[0].id})).await.problem(403, "/problems/forbidden");
    let r = s.send(s.request(Method::PUT, FRIENDS).bearer_auth(&users[0].token)).await;
    r.problem(405, "/problems/method-not-allowed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_third_person_cannot_see_or_act_on_others_requests() {
    let s = Server::start().await;
    let users = s.users(4, "Spy").await;
    let (a, b, c, d) = (&users[0], &users[1], &users[2], &users[3]);
    ask(&s, a, b).await.ok(201);
    ask(&s, c, d).await.ok(201);
    accept(&s, d, c).await.ok(200);

    let empty = json!({"friends": [], "incoming": [], "incoming_total": 0, "outgoing": []});
    let fresh = s.users(1, "Eve").await.remove(0);
    assert_eq!(list(&s, &fresh).await, empty, "nothing of a, b, c, d shows");
    // Not theirs to answer, withdraw or end.
    accept(&s, &fresh, a).await.problem(404, "/problems/not-found");
    decline(&s, &fresh, a).await.problem(404, "/problems/not-found");
    remove(&s, &fresh, b).await.problem(404, "/problems/not-found");
    remove(&s, &fresh, c).await.problem(404, "/problems/not-found");
    remove(&s, &fresh, d).await.problem(404, "/problems/not-found");
    // c, a friend of d, is just as much a stranger to a and b's request.
    accept(&s, c, a).await.problem(404, "/problems/not-found");
    // Everything is as it was.
    assert_eq!(ids(&list(&s, b).await, "incoming"), vec![a.id]);
    assert_eq!(ids(&list(&s, a).await, "outgoing"), vec![b.id]);
    assert_eq!(ids(&list(&s, c).await, "friends"), vec![d.id]);
    assert_eq!(ids(&list(&s, d).await, "friends"), vec![c.id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_100_pending_requests_out() {
    let s = Server::start().await;
    let users = s.users(u32::try_from(MAX_OUTGOING_REQUESTS_PER_USER).unwrap() + 2, "Out").await;
    let (me, rest) = users.split_first().unwrap();
    for u in &rest[..MAX_OUTGOING_REQUESTS_PER_USER] {
        ask(&s, me, u).await.ok(201);
    }
    let last = &rest[MAX_OUTGOING_REQUESTS_PER_USER];
    let p = ask(&s, me, last).await.problem(409, "/problems/friend-limit");
    assert!(p["detail"].as_str().is_some_and(|d| d.contains("100")), "{p}");
    assert_eq!(list(&s, me).await["outgoing"].as_array().map(Vec::len), Some(MAX_OUTGOING_REQUESTS_PER_USER));
    // Withdrawing one frees its slot.
    let r = remove(&s, me, &rest[0]).await;
    assert_eq!(r.status, 204, "{}", r.body);
    ask(&s, me, last).await.ok(201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_500_friends() {
    let s = Server::start().await;
    let users = s.users(u32::try_from(MAX_FRIENDS_PER_USER).unwrap() + 2, "Hub").await;
    let (hub, rest) = users.split_first().unwrap();
    let (fill, extra) = rest.split_at(MAX_FRIENDS_PER_USER);
    for u in fill {
        ask(&s, u, hub).await.ok(201);
        accept(&s, hub, u).await.ok(200);
    }
    assert_eq!(list(&s, hub).await["friends"].as_array().map(Vec::len), Some(MAX_FRIENDS_PER_USER));
    let p = ask(&s, &extra[0], hub).await.problem(409, "/problems/friend-limit");
    assert!(p["detail"].as_str().is_some_and(|d| d.contains(&hub.id.to_string()) && d.contains("500")), "{p}");
    ask(&s, hub, &extra[0]).await.problem(409, "/problems/friend-limit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_friends_accepts_friends_and_refuses_a_non_friend() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig {
        data_dir: dir.path().to_path_buf(),
        admin_token: None,
        connections_max: 10,
        engine: Default::default(),
        public_url: None,
        metrics: true,
    };
    let app = App::open(&config).unwrap();
    let state = &app.state;
    let people = state.store.bulk_create(4, "grp").unwrap();
    let [me, f1, f2, stranger] = [0, 1, 2, 3].map(|i| people[i].0.id);
    for f in [f1, f2] {
        state.store.request_friend(me, f).unwrap();
        state.store.accept_friend(f, me).unwrap();
    }
    let UserId(m) = me;
    check_friends(state, m, &[]).await.unwrap();
    check_friends(state, m, &[f1.0, f2.0]).await.unwrap();
    check_friends(state, m, &[m, f1.0]).await.unwrap();
    // A pending request is not a friendship.
    state.store.request_friend(me, stranger).unwrap();
    for others in [vec![f1.0, stranger.0, 999_999], vec![stranger.0]] {
        let e = check_friends(state, m, &others).await.unwrap_err();
        assert_eq!((e.status.as_u16(), e.kind()), (403, "/problems/not-a-friend".to_owned()));
        assert!(e.detail.contains(&stranger.0.to_string()), "{}", e.detail);
    }
    let e = check_friends(state, m, &[999_999, stranger.0]).await.unwrap_err();
    assert!(e.detail.contains("999999"), "the first non-friend is named: {}", e.detail);
    // Friendship is not transitive, and ends when removed.
    assert!(check_friends(state, f1.0, &[f2.0]).await.is_err());
    state.store.remove_friend(f2, me).unwrap();
    assert!(check_friends(state, m, &[f2.0]).await.is_err());
    app.state.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn friends_are_in_the_openapi_document() {
    let s = Server::start().await;
    let doc = s.get("/api/openapi.json", None).await.ok(200);
    for p in
        [FRIENDS, "/api/me/friends/{user_id}", "/api/me/friends/{user_id}/accept", "/api/me/friends/{user_id}/decline"]
    {
        assert!(doc["paths"][p].is_object(), "{p} missing");
    }
    for schema in ["FriendsOut", "FriendshipOut", "FriendRequestBody"] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema} missing");
    }
}
