//! What bounds the child-node cache behind `instance["..."]` and the accessors: one node per distinct key, kept as
//! long as the node that was indexed. A service that indexes ever-new literal ids grows it without limit; a
//! placeholder, `chain()` or a short-lived clone do not. (Linux: the memory figures come from `/proc/self/statm`.)

use serde_json::json;
use wechatpay::Builder;

fn client() -> Builder {
    Builder::factory(json!({
        "mchid": "1900000001",
        "serial": "5F1C72E2A8931B72A2E13AF8DEE92471EB397115",
        "privateKey": "file://tests/fixtures/merchant_private_key.pem",
        "certs": {"PUB_KEY_ID_0114232134912410000000000000000": "file://tests/fixtures/wechat_pay_public_key.pem"},
    }))
    .expect("factory")
}

const QUERY: &str = "v3/pay/transactions/out-trade-no";

#[test]
fn a_key_is_cached_once_and_placeholders_or_chain_add_nothing_per_id() {
    let instance = client();
    // The same key is the same node: repeated use allocates nothing.
    assert!(std::ptr::eq(
        &instance["v3/pay/transactions/out-trade-no/{out_trade_no}"],
        &instance["v3/pay/transactions/out-trade-no/{out_trade_no}"]
    ));
    // One placeholder node serves every id: the id travels in the options.
    let node = &instance["v3/pay/transactions/out-trade-no/{out_trade_no}"];
    let first = node.url(json!({"out_trade_no": "T1", "query": {"mchid": "1900000001"}})).unwrap();
    let second = node.url(json!({"out_trade_no": "T2", "query": {"mchid": "1900000001"}})).unwrap();
    assert!(
        first.ends_with("/out-trade-no/T1?mchid=1900000001") && second.ends_with("/out-trade-no/T2?mchid=1900000001")
    );
    // A clone starts with an empty cache of its own, dropped with it.
    let clone = instance.clone();
    assert!(!std::ptr::eq(&clone[QUERY], &instance[QUERY]));
    assert!(std::ptr::eq(&clone[QUERY], &clone[QUERY]));
}

#[cfg(target_os = "linux")]
#[test]
fn distinct_literal_keys_cost_memory_until_the_indexed_node_is_dropped() {
    const KEYS: usize = 10_000;
    const ROUNDS: usize = 6;
    fn resident_bytes() -> usize {
        let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
        let pages: usize = statm.split_whitespace().nth(1).and_then(|field| field.parse().ok()).expect("resident");
        pages * 4096
    }
    fn index_distinct_ids(node: &Builder, round: usize) {
        for id in 0..KEYS {
            let key = format!("{QUERY}/{round}-{id:08}");
            assert!(node[&*key].template().ends_with(&key));
        }
    }

    let instance = client();
    // Indexing short-lived clones: each clone's cache goes with it, and the next round reuses the memory.
    let start = resident_bytes();
    for round in 0..ROUNDS {
        let scratch = instance.clone();
        index_distinct_ids(&scratch, round);
    }
    let on_clones = resident_bytes().saturating_sub(start);
    // Every distinct literal key adds a node to the cache of the node indexed, here the root, which lives as long
    // as the Builder: this is the growth a service indexing ever-new ids sees.
    let before = resident_bytes();
    for round in ROUNDS..2 * ROUNDS {
        index_distinct_ids(&instance, round);
    }
    let on_root = resident_bytes().saturating_sub(before);
    let per_key = on_root / (ROUNDS * KEYS);
    println!(
        "{} keys: {on_clones} bytes on dropped clones, {on_root} bytes on the root ({per_key} per key)",
        ROUNDS * KEYS
    );
    assert!(
        on_root > ROUNDS * KEYS * 100,
        "{} distinct keys cost only {on_root} bytes: are they cached?",
        ROUNDS * KEYS
    );
    assert!(per_key < 2048, "{per_key} bytes per cached key");
    assert!(on_root > 2 * on_clones, "dropped clones kept their caches: {on_clones} bytes, against {on_root}");
}
