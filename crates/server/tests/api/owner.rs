//! The owner's view of a sale's holds, page by page.

use serde_json::json;

use crate::common::{ADMIN, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_pages_through_holds() {
    let s = Server::start().await;
    let org = s.organizer("own").await;
    let users = s.users(2, "page").await;
    let sale = s.stock_sale_by(&org.token, json!({"per_person_limit": 10})).await;
    let id = sale["id"].as_u64().expect("id");
    s.open(id).await;
    let mut made = Vec::new();
    for i in 0..5 {
        let u = &users[i % 2];
        made.push((s.hold(id, &u.token, 1).await["id"].as_u64().expect("id"), u.id));
    }
    s.post_empty(&format!("/api/sales/{id}/holds/{}/confirm", made[0].0), Some(&users[0].token)).await.ok(200);

    let mut seen = Vec::new();
    let mut after = 0;
    let mut pages = 0;
    loop {
        let page = s.get(&format!("/api/sales/{id}/holds?after={after}&limit=2"), Some(&org.token)).await.ok(200);
        let rows = page["holds"].as_array().expect("holds");
        assert!(rows.len() <= 2);
        for r in rows {
            seen.push((r["id"].as_u64().expect("id"), r["user_id"].as_u64().expect("user_id")));
            assert_eq!(r["quantity"], 1);
        }
        pages += 1;
        assert!(pages <= 4, "paging does not end");
        match page["next_after"].as_u64() {
            Some(next) => {
                assert_eq!(Some(next), seen.last().map(|r| r.0));
                after = next;
            }
            None => {
                assert!(rows.len() < 2, "a full page must say where to go on");
                break;
            }
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, made);
    let all = s.get(&format!("/api/sales/{id}/holds"), Some(&org.token)).await.ok(200);
    assert_eq!(all["next_after"], json!(null));
    assert_eq!(all["holds"][0]["status"], "confirmed");
    assert_eq!(all["holds"][1]["status"], "held");

    // 2^63: past the document's int64, and negative if it were wrapped into SQL.
    for bad in ["limit=0", "limit=10001", "limit=-1", "limit=x", "after=abc", "after=-5", "after=9223372036854775808"] {
        let p = s
            .get(&format!("/api/sales/{id}/holds?{bad}"), Some(&org.token))
            .await
            .problem(422, "/problems/invalid-field");
        let field = bad.split('=').next().unwrap_or_default();
        assert!(p["detail"].as_str().unwrap_or_default().contains(field), "{bad}: {p}");
    }
    s.get(&format!("/api/sales/{id}/holds"), Some(&users[0].token)).await.problem(403, "/problems/forbidden");
    s.get(&format!("/api/sales/{id}/holds"), None).await.problem(401, "/problems/unauthenticated");
    assert_eq!(s.get(&format!("/api/sales/{id}/holds?after=0&limit=10000"), Some(ADMIN)).await.ok(200), all);
}
