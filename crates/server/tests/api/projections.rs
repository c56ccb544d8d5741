//! Reads from the read models and the engine's published state: `GET
//! /api/me/*`, one sale, an order by reference, the organizer's hold listing
//! and results, and one's waiting-room entry answer without asking any sale
//! task, see a purchase the moment its 201 is out (read-your-writes), and the
//! organizer's figures come from them too.

use serde_json::json;
use stampede_core::{KindConfig, SaleConfig, StockConfig, US_PER_S, UserId};

use crate::common::{ADMIN, Server};

fn filler_sale(owner: u64) -> SaleConfig {
    SaleConfig {
        title: "filler".into(),
        description: String::new(),
        owner: UserId(owner),
        currency: "KRW".into(),
        opens_at_us: None,
        closes_at_us: None,
        kind: KindConfig::Stock(StockConfig {
            stock: 5,
            price: 100,
            per_person_limit: 2,
            order_quantity_max: 2,
            hold_ttl_us: 300 * US_PER_S,
        }),
        queue: None,
        translations: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn my_orders_with_a_thousand_sales_asks_no_sale_task_and_shows_what_was_just_bought() {
    let server = Server::start().await;
    let buyer = server.users(1, "buyer").await.remove(0);
    // A thousand sales in the store, created straight through the engine.
    let mut creating = Vec::new();
    for _ in 0..1000 {
        let engine = server.engine.clone();
        creating.push(tokio::spawn(async move { engine.create_sale(filler_sale(1)).await.map(|h| h.id) }));
    }
    for c in creating {
        c.await.unwrap().unwrap();
    }
    let a = server.open_stock_sale(json!({"price": 1500})).await;
    let b = server.open_stock_sale(json!({"price": 700})).await;
    let h1 = server.hold(a, &buyer.token, 2).await;
    server.grant(buyer.id, 3000).await;
    server.pay(a, h1["id"].as_u64().unwrap(), &buyer.token).await.ok(200);
    let room = server
        .stock_sale_by(ADMIN, json!({"waiting_room": {"policy": "active", "active_max": 10, "pow_bits": 0}}))
        .await["id"]
        .as_u64()
        .unwrap();
    server.open(room).await;
    let ticket = server.post(&format!("/api/sales/{room}/queue/join"), Some(&buyer.token), json!({"nonce": 0})).await;
    let ticket = ticket.ok(200);
    let h2 = server.hold(b, &buyer.token, 1).await;

    let before = server.engine.messages_posted();
    // Straight after the answers: the projections and the sales' published
    // state have caught up with them.
    let orders = server.get("/api/me/orders", Some(&buyer.token)).await.ok(200);
    let holds = server.get("/api/me/holds", Some(&buyer.token)).await.ok(200);
    let seats = server.get("/api/me/seats", Some(&buyer.token)).await.ok(200);
    let sale_a = server.get(&format!("/api/sales/{a}"), None).await.ok(200);
    let sale_b = server.get(&format!("/api/sales/{b}"), None).await.ok(200);
    let order = server.get(&format!("/api/orders/{}", h1["reference"].as_str().unwrap()), Some(&buyer.token)).await;
    let order = order.ok(200);
    let listing = server.get(&format!("/api/sales/{a}/holds"), Some(ADMIN)).await.ok(200);
    let results = server.get(&format!("/api/sales/{a}/results"), Some(ADMIN)).await.ok(200);
    let mine_in_line = server.get(&format!("/api/sales/{room}/queue/me"), Some(&buyer.token)).await.ok(200);
    let joined_again =
        server.post(&format!("/api/sales/{room}/queue/join"), Some(&buyer.token), json!({"nonce": 0})).await.ok(200);
    assert_eq!(server.engine.messages_posted(), before, "no message went to any sale task");

    assert_eq!((sale_a["stock"]["sold"].as_u64(), sale_a["stock"]["available"].as_u64()), (Some(2), Some(8)));
    assert_eq!((sale_b["stock"]["held"].as_u64(), sale_b["status"].as_str()), (Some(1), Some("open")));
    assert_eq!(order["stock"]["status"], "confirmed", "{order}");
    assert_eq!(order["stock"]["id"], h1["id"]);
    assert_eq!(listing["holds"], json!([{"id": h1["id"], "user_id": buyer.id, "quantity": 2, "status": "confirmed"}]));
    assert_eq!(results["revenue"], 3000);
    assert_eq!(results["recipients"][0]["reference"], h1["reference"], "{results}");
    assert_eq!(results["sale"]["stock"]["sold"], 2);
    assert_eq!(mine_in_line["ticket"], ticket["ticket"]);
    assert_eq!(mine_in_line["pass_state"], "admitted", "{mine_in_line}");
    assert_eq!(joined_again["ticket"], ticket["ticket"]);

    let orders = orders["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 1, "{orders:?}");
    assert_eq!(orders[0]["sale_id"], a);
    assert_eq!(orders[0]["status"], "confirmed");
    assert_eq!(orders[0]["amount"], 3000);
    assert_eq!(orders[0]["reference"], h1["reference"]);
    let holds = holds["holds"].as_array().unwrap();
    assert_eq!(holds.len(), 1, "{holds:?}");
    assert_eq!(holds[0]["id"], h2["id"]);
    assert_eq!(holds[0]["amount"], 700);
    assert_eq!(holds[0]["expires_at"], h2["expires_at"]);
    assert_eq!(seats["seats"].as_array().unwrap().len(), 0);

    // A refund shows at once too, and in the organizer's figures.
    server.post_empty(&format!("/api/sales/{a}/orders/{}/refund", h1["id"]), Some(&buyer.token)).await.ok(200);
    let orders = server.get("/api/me/orders", Some(&buyer.token)).await.ok(200);
    assert_eq!(orders["orders"][0]["status"], "refunded");
    let stats = server.get(&format!("/api/sales/{a}/stats"), Some(ADMIN)).await.ok(200);
    assert_eq!((stats["sold"].as_u64(), stats["refunds"].as_u64()), (Some(0), Some(1)), "{stats}");
    assert_eq!(stats["refunded_amount"], 3000);
    let stats = server.get(&format!("/api/sales/{b}/stats"), Some(ADMIN)).await.ok(200);
    assert_eq!((stats["held"].as_u64(), stats["sold"].as_u64()), (Some(1), Some(0)), "{stats}");
    server.stop().await;
}
