//! Catalog-wide: every endpoint path of tests/fixtures/catalog (copies of ../shared/catalog's endpoint lists) can
//! be built through the typed tree (src/paths), with chain() and with indexing, and expands correctly.

#[path = "accessors/walk.rs"]
mod walk;

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde_json::{Map, Value, json};
use wechatpay::{Accessor, Builder};

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

/// The catalog as a tree: each node's children, with every hyphenated literal's snake name (the twins' other half).
struct Catalog {
    endpoints: Vec<Endpoint>,
    children: BTreeMap<String, BTreeSet<String>>,
    hyphenated: HashSet<String>,
}

impl Catalog {
    fn load() -> Catalog {
        let endpoints = endpoints();
        let mut children: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut hyphenated = HashSet::new();
        for endpoint in &endpoints {
            let segments: Vec<&str> = endpoint.path.split('/').collect();
            for (i, segment) in segments.iter().enumerate() {
                children.entry(segments[..i].join("/")).or_default().insert((*segment).to_owned());
                if segment.contains('-') {
                    hyphenated.insert(snake(segment));
                }
            }
        }
        Catalog { endpoints, children, hyphenated }
    }

    /// The naming rule documented in src/paths.rs, written out independently of the generator: the accessor that
    /// reaches `segment` below `parent`, as written in Rust (raw keywords included).
    fn accessor(&self, parent: &str, segment: &str) -> String {
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
        if ["return", "use", "try"].contains(&name.as_str()) {
            return format!("r#{name}");
        }
        let is_underscored_twin = !segment.contains('-') && self.hyphenated.contains(&name);
        let sibling_is_hyphenated = self.children[parent].iter().any(|s| s != segment && snake(s) == name);
        if is_underscored_twin && sibling_is_hyphenated { format!("{name}_") } else { name }
    }

    /// Every catalog path (no duplicates) with its accessor chain from the root.
    fn chains(&self) -> BTreeMap<&str, String> {
        let mut chains = BTreeMap::new();
        for endpoint in &self.endpoints {
            let segments: Vec<&str> = endpoint.path.split('/').collect();
            let chain: String = (0..segments.len())
                .map(|i| format!(".{}()", self.accessor(&segments[..i].join("/"), segments[i])))
                .collect();
            chains.insert(endpoint.path.as_str(), chain);
        }
        chains
    }
}

#[test]
fn the_typed_walk_covers_every_catalog_path_with_the_documented_names() {
    // walk.rs (generated) calls these chains and checks each template; here its lines are checked against the
    // catalog and this file's own naming rule, so a generator that drifted from either fails.
    let catalog = Catalog::load();
    let walk = include_str!("accessors/walk.rs");
    let calls: Vec<&str> = walk.lines().map(str::trim).filter(|line| line.starts_with("check(")).collect();
    let chains = catalog.chains();
    let expected: Vec<String> = chains.iter().map(|(path, chain)| format!("check(i{chain}, \"{path}\");")).collect();
    let missing: Vec<&String> = expected.iter().filter(|line| !calls.contains(&line.as_str())).take(5).collect();
    let extra: Vec<&&str> = calls.iter().filter(|line| !expected.contains(&line.to_string())).take(5).collect();
    assert!(missing.is_empty() && extra.is_empty(), "walk.rs lacks {missing:#?}\nand has {extra:#?}");
    assert_eq!(calls, expected, "one line a path, in order");
    assert_eq!(calls.len(), 1076, "1076 distinct paths in the catalog");
}

#[test]
fn accessors_list_every_child_method_and_name_of_the_tree() {
    let catalog = Catalog::load();
    let instance = offline();
    let mut methods: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for endpoint in &catalog.endpoints {
        methods.entry(endpoint.path.as_str()).or_default().insert(endpoint.method.as_str());
    }
    // Breadth-first over the Accessor table: each node's children are exactly the catalog's, named by the rule, and
    // each node's methods are exactly the catalog's endpoints at that path.
    let mut queue: Vec<(String, &'static [Accessor])> = vec![(String::new(), instance.accessors())];
    let mut nodes = 0;
    while let Some((template, accessors)) = queue.pop() {
        let segments: BTreeSet<&str> = accessors.iter().map(Accessor::segment).collect();
        let expected: BTreeSet<&str> = catalog.children[&template].iter().map(String::as_str).collect();
        assert_eq!(segments, expected, "children of {template:?}");
        for accessor in accessors {
            let segment = accessor.segment();
            let child = if template.is_empty() { segment.to_owned() } else { format!("{template}/{segment}") };
            let name = catalog.accessor(&template, segment);
            assert_eq!(accessor.name(), name.trim_start_matches("r#"), "{child}");
            let expected_methods: Vec<&str> = methods.get(child.as_str()).into_iter().flatten().copied().collect();
            assert_eq!(accessor.methods(), expected_methods, "{child}");
            // Builder::accessors finds the same level from any node with that template.
            assert_eq!(instance.verbatim(&child).accessors(), accessor.children(), "{child}");
            if !accessor.children().is_empty() {
                queue.push((child, accessor.children()));
            }
            nodes += 1;
        }
    }
    assert_eq!(nodes, 1744);
    assert!(instance.chain("v3/no-such-thing").accessors().is_empty());
    assert!(instance.chain("v3/pay/transactions/native/extra").accessors().is_empty());
}

/// The public methods of every `impl Builder` block under src/ (where the crate adds Builder methods).
fn builder_methods(dir: &std::path::Path, methods: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            builder_methods(&path, methods);
            continue;
        }
        if path.extension().is_none_or(|ext| ext != "rs") || path.ends_with("paths/tree.rs") {
            continue;
        }
        let mut inside = false;
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            if line.starts_with("impl Builder {") || line.starts_with("impl crate::Builder {") {
                inside = true;
            } else if line == "}" {
                inside = false;
            } else if let Some(rest) = line.trim_start().strip_prefix("pub fn ").filter(|_| inside) {
                methods.insert(rest.split(['(', '<']).next().unwrap().to_owned());
            }
        }
    }
}

#[test]
fn no_accessor_hides_a_builder_method() {
    // A typed node's accessor wins over a Builder method of the same name on that node, so a method added to
    // Builder under a segment's name (`verify`, `upload`, ...) would quietly become unreachable there.
    let mut methods = BTreeSet::new();
    builder_methods(std::path::Path::new("src"), &mut methods);
    assert!(methods.contains("post") && methods.contains("accessors"), "found Builder's methods: {methods:?}");
    let mut clashes = Vec::new();
    let mut queue: Vec<(String, &'static [Accessor])> =
        wechatpay::paths::root().iter().map(|a| (a.segment().to_owned(), a.children())).collect();
    while let Some((template, accessors)) = queue.pop() {
        for accessor in accessors {
            clashes
                .extend(accessor.names().iter().filter(|name| methods.contains(**name)).map(|n| (n, template.clone())));
            queue.push((format!("{template}/{}", accessor.segment()), accessor.children()));
        }
    }
    assert!(
        clashes.is_empty(),
        "accessors named like Builder methods (add the names to BUILDER_METHODS in tools/gen_accessors.py and \
         regenerate): {clashes:?}"
    );
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
    // Where the underscored twin is the only one, both names reach the same cached node.
    assert!(std::ptr::eq(applyment.applyment_id_(), applyment.applyment_id()));
    assert!(std::ptr::eq(applyment.business_code_(), applyment.business_code()));
    assert_eq!(instance.v3().brand().applyments().applyment_id().template(), "v3/brand/applyments/applyment-id");
    assert_eq!(instance.v3().merchant().media().video_upload().template(), "v3/merchant/media/video_upload");
    let coupons = instance.v3().marketing().busifavor().coupons();
    assert_eq!(coupons.r#use().template(), "v3/marketing/busifavor/coupons/use");
    assert_eq!(coupons.r#return().template(), "v3/marketing/busifavor/coupons/return");
    assert_eq!(
        instance.v3().gov().subsidy().zhejiang().authcode().r#try().template(),
        "v3/gov/subsidy/zhejiang/authcode/try"
    );
    assert_eq!(
        instance.v3().brand().profitsharing().receivers().delete_().template(),
        "v3/brand/profitsharing/receivers/delete"
    );
    assert_eq!(applyment.trailing_slash().template(), "v3/applyment4sub/applyment/");
    assert_eq!(instance.v2().secapi().mch().add_institutionsub().template(), "v2/secapi/mch/addInstitutionsub");
    assert_eq!(instance.hk().v3().template(), "hk/v3");
    assert_eq!(instance.global().v3().template(), "global/v3");
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

/// Whether two nodes are the very same one (typed or not: a typed node's Builder is inside it).
fn same(a: &Builder, b: &Builder) -> bool {
    std::ptr::eq(a, b)
}

#[test]
fn typed_nodes_are_cached_and_leave_the_tree_as_builders() {
    let instance = offline();
    let first: *const _ = instance.v3().fund_app();
    for _ in 0..1000 {
        assert!(std::ptr::eq(first, instance.v3().fund_app()));
        let cancel = instance.v3().fund_app().mch_transfer().transfer_to_qq_wallet_bills()._out_bill_no_().cancel();
        assert!(std::ptr::eq(
            cancel,
            instance.v3().fund_app().mch_transfer().transfer_to_qq_wallet_bills()._out_bill_no_().cancel()
        ));
    }
    // Indexing keeps its own cache: the same template, another node; and indexing below a typed node works.
    assert_eq!(instance["v3"].template(), instance.v3().template());
    assert!(std::ptr::eq(&instance.v3()["fund-app"], &instance.v3()["fund-app"]));
    assert_eq!(instance.v3()["fundApp"].template(), "v3/fund-app");
    // chain() makes a fresh node each time (for dynamic paths), sharing the configuration.
    assert!(!same(&instance.chain("v3"), instance.v3()));
    // A typed node goes wherever a &Builder does, and its references live as long as the root.
    fn pay(instance: &Builder) -> &Builder {
        instance.v3().pay()
    }
    let nodes: [&Builder; 2] = [pay(&instance), instance.v3().pay().transactions()];
    assert_eq!(nodes.map(Builder::template), ["v3/pay", "v3/pay/transactions"]);
    // A root accessor called through a node's Builder (deref) still makes its own node, apart from the typed child.
    let hk: &Builder = instance.hk();
    assert_eq!(hk.v3().template(), "hk/v3");
    assert!(!same(hk.v3(), instance.hk().v3()));
}

#[test]
fn typed_nodes_are_send_and_sync_and_shared_across_threads() {
    fn send_sync<T: Send + Sync + ?Sized>(_: &T) {}
    let instance = std::sync::Arc::new(offline());
    send_sync(instance.v3().pay());
    send_sync(instance.v3().pay().transactions().native());
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let instance = std::sync::Arc::clone(&instance);
            std::thread::spawn(move || instance.v3().pay().transactions().native() as *const _ as usize)
        })
        .collect();
    let nodes: HashSet<usize> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(nodes.len(), 1, "every thread got the same cached node");
}
