//! Catalog-wide: every endpoint path of tests/fixtures/catalog (copies of ../shared/catalog's endpoint lists) can
//! be built with the generated accessors and with chain(), and expands correctly.

mod common;

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value, json};
use wechatpay::Builder;

struct Endpoint {
    method: String,
    /// Chain form, no leading slash: `v3/pay/...`, `v2/pay/micropay`.
    path: String,
}

fn endpoints() -> Vec<Endpoint> {
    let mut all = Vec::new();
    for (file, prefix) in [
        (include_str!("fixtures/catalog/endpoints-v3.tsv"), ""),
        (include_str!("fixtures/catalog/endpoints-v2.tsv"), "v2"),
    ] {
        for line in file.lines().filter(|line| !line.trim().is_empty()) {
            let mut fields = line.split('\t');
            let method = fields.next().unwrap().to_owned();
            let path = format!("{prefix}{}", fields.next().unwrap());
            all.push(Endpoint { method, path: path.trim_start_matches('/').to_owned() });
        }
    }
    all
}

fn offline() -> Builder {
    Builder::factory(json!({
        "mchid": "1900000001",
        "serial": "5F1C72E2A8931B72A2E13AF8DEE92471EB397115",
        "privateKey": "file://tests/fixtures/merchant_private_key.pem",
        "certs": {"PUB_KEY_ID_0114232134912410000000000000000": "file://tests/fixtures/wechat_pay_public_key.pem"},
    }))
    .unwrap()
}

fn snake(segment: &str) -> String {
    let mut out = String::new();
    let mut previous: Option<char> = None;
    for c in segment.chars() {
        if c.is_ascii_uppercase() && previous.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit()) {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
        previous = Some(c);
    }
    out.replace('-', "_")
}

/// The naming rule documented on `Builder`, written out independently of the generator.
fn accessor_name(segment: &str, siblings: &HashSet<String>, hyphenated_twins: &HashSet<String>) -> String {
    if segment.is_empty() {
        return "trailing_slash".into();
    }
    if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
        return format!("_{name}_");
    }
    let name = snake(segment);
    if name == "delete" {
        return "delete_".into();
    }
    let is_underscored_twin = !segment.contains('-') && hyphenated_twins.contains(&name);
    let sibling_is_hyphenated = siblings.iter().any(|s| s != segment && snake(s) == name);
    if is_underscored_twin && sibling_is_hyphenated { format!("{name}_") } else { name }
}

#[test]
fn every_endpoint_is_reachable_by_accessors() {
    let instance = offline();
    let accessors: HashMap<&str, wechatpay::Accessor> = Builder::accessors().iter().copied().collect();
    let endpoints = endpoints();
    let mut children: HashMap<String, HashSet<String>> = HashMap::new();
    let mut hyphenated_twins = HashSet::new();
    for endpoint in &endpoints {
        let segments: Vec<&str> = endpoint.path.split('/').collect();
        for (i, segment) in segments.iter().enumerate() {
            children.entry(segments[..i].join("/")).or_default().insert((*segment).to_owned());
            if segment.contains('-') {
                hyphenated_twins.insert(snake(segment));
            }
        }
    }
    let mut used = HashSet::new();
    for endpoint in &endpoints {
        let mut node = &instance;
        let segments: Vec<&str> = endpoint.path.split('/').collect();
        for (i, segment) in segments.iter().enumerate() {
            let siblings = &children[&segments[..i].join("/")];
            let name = accessor_name(segment, siblings, &hyphenated_twins);
            let accessor = accessors
                .get(name.as_str())
                .unwrap_or_else(|| panic!("no accessor {name} for {segment:?} in {}", endpoint.path));
            node = accessor(node);
            used.insert(name);
        }
        assert_eq!(node.template(), endpoint.path, "{} {}", endpoint.method, endpoint.path);
    }
    // Every generated accessor serves some endpoint (the generated file matches the catalog exactly), except the
    // explicit underscored twins whose plain name already reaches them under their only parent.
    let mut unused: Vec<_> = accessors.keys().filter(|name| !used.contains(**name)).copied().collect();
    unused.sort();
    assert_eq!(unused, ["applyment_id_", "business_code_"]);
    let applyment = instance.v3().applyment4sub().applyment();
    assert!(std::ptr::eq(applyment.applyment_id_(), applyment.applyment_id()));
    assert!(std::ptr::eq(applyment.business_code_(), applyment.business_code()));
}

#[test]
fn every_endpoint_is_reachable_by_chain_and_index_and_they_agree() {
    let instance = offline();
    for endpoint in endpoints() {
        if endpoint.path.bytes().any(|b| b.is_ascii_uppercase()) {
            // PHP's normalisation turns capitals into `-x`, so these take verbatim() (or their accessor).
            assert_ne!(instance.chain(&endpoint.path).template(), endpoint.path);
            assert_eq!(instance.verbatim(&endpoint.path).template(), endpoint.path);
            continue;
        }
        assert_eq!(instance.chain(&endpoint.path).template(), endpoint.path);
        let indexed = &instance[endpoint.path.as_str()];
        assert_eq!(indexed.template(), endpoint.path);
        // Indexing again gives the very same cached node.
        assert!(std::ptr::eq(indexed, &instance[endpoint.path.as_str()]));
        // Split across nodes: the first segment, then the rest.
        let (first, rest) = endpoint.path.split_once('/').unwrap();
        assert_eq!(instance[first][rest].template(), endpoint.path);
    }
}

#[test]
fn every_v3_endpoint_expands_with_its_variables() {
    let instance = offline();
    for endpoint in endpoints().into_iter().filter(|e| !e.path.starts_with("v2")) {
        let mut options = Map::new();
        let mut expected = String::from("https://api.mch.weixin.qq.com/");
        for (i, segment) in endpoint.path.split('/').enumerate() {
            if i > 0 {
                expected.push('/');
            }
            match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => {
                    // Mixed case and a character that must be encoded: values are never case-mangled.
                    let value = format!("Id-{name}-Ab C");
                    expected.push_str(&value.replace(' ', "%20"));
                    options.insert(name.to_owned(), Value::String(value));
                }
                None => expected.push_str(segment),
            }
        }
        let url = instance.chain(&endpoint.path).url(Value::Object(options)).unwrap();
        assert_eq!(url, expected);
    }
}

#[test]
fn a_missing_variable_is_an_error_naming_it_for_every_templated_endpoint() {
    let instance = offline();
    for endpoint in endpoints().into_iter().filter(|e| !e.path.starts_with("v2") && e.path.contains('{')) {
        let first = endpoint.path.split('{').nth(1).unwrap().split('}').next().unwrap();
        let err = instance.chain(&endpoint.path).url(()).unwrap_err();
        assert!(matches!(err, wechatpay::Error::Template { .. }), "{err:?}");
        assert!(err.to_string().contains(&format!("{{{first}}}")), "{err}");
    }
}

#[test]
fn twins_keywords_and_verbs_follow_the_documented_rule() {
    let instance = offline();
    let sign = instance.v3().papay().insurance_sign();
    assert_eq!(sign.policy_periods().template(), "v3/papay/insurance-sign/policy-periods");
    assert_eq!(sign.policy_periods_().template(), "v3/papay/insurance-sign/policy_periods");
    let applyment = instance.v3().applyment4sub().applyment();
    assert_eq!(applyment.applyment_id().template(), "v3/applyment4sub/applyment/applyment_id");
    assert_eq!(applyment.business_code().template(), "v3/applyment4sub/applyment/business_code");
    assert_eq!(instance.v3().brand().applyments().applyment_id().template(), "v3/brand/applyments/applyment-id");
    assert_eq!(instance.v3().merchant().media().video_upload().template(), "v3/merchant/media/video_upload");
    assert_eq!(instance.v3().marketing().r#use().template(), "v3/marketing/use");
    assert_eq!(instance.v3().delete_().template(), "v3/delete");
    assert_eq!(instance.v3().applyment4sub().applyment().trailing_slash().template(), "v3/applyment4sub/applyment/");
    assert_eq!(instance.v2().secapi().mch().add_institutionsub().template(), "v2/secapi/mch/addInstitutionsub");
}

#[test]
fn indexing_does_not_depend_on_what_was_called_before() {
    let fresh = offline();
    let indexed_first = fresh.v2().secapi().mch()["addInstitutionsub"].template().to_owned();
    let primed = offline();
    let _ = primed.v2().secapi().mch().add_institutionsub();
    assert_eq!(primed.v2().secapi().mch()["addInstitutionsub"].template(), indexed_first);
    assert_eq!(indexed_first, "v2/secapi/mch/add-institutionsub", "index normalises as PHP does");
    // A leading slash never doubles, at the root or below.
    assert_eq!(fresh.v3().chain("/pay").template(), "v3/pay");
    assert_eq!(fresh["/v3"].template(), "v3");
}

#[test]
fn reserved_expansion_cannot_climb_out_of_its_path_or_drop_the_query() {
    let instance = offline();
    let node = instance.chain("v3/marketing/{+p}");
    for value in ["../../v3/certificates", "%2e%2e/%2E%2E/v3/certificates", "a/./b", "a/.."] {
        let err = node.url(json!({"p": value})).unwrap_err();
        assert!(matches!(err, wechatpay::Error::Template { .. }), "{value}: {err:?}");
    }
    let url = node.url(json!({"p": "a/b#frag", "query": {"q": 1}})).unwrap();
    assert_eq!(url, "https://api.mch.weixin.qq.com/v3/marketing/a/b%23frag?q=1");
}

#[test]
fn accessor_nodes_are_cached_and_repeated_use_does_not_grow() {
    let instance = offline();
    let first = instance.v3().fund_app() as *const Builder;
    for _ in 0..1000 {
        assert!(std::ptr::eq(first, instance.v3().fund_app()));
        assert!(std::ptr::eq(first, &instance["v3"]["fund-app"]));
        assert!(std::ptr::eq(instance.v3(), &instance["v3"]));
    }
    // chain() makes a fresh node each time (for dynamic paths), sharing the configuration.
    assert!(!std::ptr::eq(&instance.chain("v3"), instance.v3()));
}
