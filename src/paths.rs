//! The typed path tree: one type per node of WeChat Pay's endpoint catalog, each with an accessor for exactly its
//! children, generated from the catalog (`tools/gen_accessors.py`).
//!
//! `instance.v3()` is a [`V3`], whose accessors are the 80 segments the catalog has below `v3/`; `fund_app()` on it
//! is a [`v3::FundApp`], and so on down to the endpoint. A chain reads as in PHP and as before, but a segment that is
//! not a child of the node does not compile, and an IDE offers only the real children at each step:
//!
//! ```
//! # let instance = wechatpay::Builder::factory(serde_json::json!({"mchid": "1",
//! #   "serial": "5F1C72E2A8931B72A2E13AF8DEE92471EB397115",
//! #   "privateKey": "file://tests/fixtures/merchant_private_key.pem",
//! #   "certs": {"CD": "file://tests/fixtures/wechat_pay_public_key.pem"}}))?;
//! let cancel = instance.v3().fund_app().mch_transfer().transfer_to_qq_wallet_bills()._out_bill_no_().cancel();
//! assert_eq!(cancel.template(), "v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills/{out_bill_no}/cancel");
//! assert_eq!(instance.v3().merchant().media().video_upload().template(), "v3/merchant/media/video_upload");
//! # Ok::<(), wechatpay::Error>(())
//! ```
//!
//! ```compile_fail
//! # fn wrong(instance: &wechatpay::Builder) {
//! // `video_upload` is a child of `v3/merchant/media`, not of `v3`: no method named `video_upload` found for `&V3`.
//! instance.v3().video_upload();
//! # }
//! ```
//!
//! ```compile_fail
//! # fn wrong(instance: &wechatpay::Builder) {
//! // Nor may a path start again below the root: "`v3()` starts a path at the root, not below it".
//! instance.v3().pay().v3();
//! # }
//! ```
//!
//! # Every node is a `Builder`
//!
//! A typed node derefs to [`Builder`] (through [`Node`]), so it has the whole `Builder` API: the verbs, [`url`],
//! [`template`], [`chain`], [`verbatim`] and indexing. Those last three leave the typed tree for a path the catalog
//! lacks. Accessors return references, so a typed node goes wherever a `&Builder` is expected, and lives as long as
//! the root; `.clone()` copies that reference (`Builder::clone(node)` makes an owned `Builder`):
//!
//! ```
//! use wechatpay::Builder;
//! # let instance = Builder::factory(serde_json::json!({"mchid": "1",
//! #   "serial": "5F1C72E2A8931B72A2E13AF8DEE92471EB397115",
//! #   "privateKey": "file://tests/fixtures/merchant_private_key.pem",
//! #   "certs": {"CD": "file://tests/fixtures/wechat_pay_public_key.pem"}}))?;
//! fn transactions(instance: &Builder) -> &Builder {
//!     instance.v3().pay().transactions()
//! }
//! let pay = instance.v3().pay();
//! assert_eq!(pay.transactions().native().template(), "v3/pay/transactions/native");
//! let owned: Builder = Builder::clone(pay.transactions());
//! assert_eq!(owned.template(), "v3/pay/transactions");
//! assert_eq!(transactions(&instance).template(), "v3/pay/transactions");
//! assert_eq!(pay.chain("newProduct/{id}").template(), "v3/pay/new-product/{id}");
//! assert_eq!(instance.v3()["pay/transactions"].template(), "v3/pay/transactions");
//! # Ok::<(), wechatpay::Error>(())
//! ```
//!
//! Nodes without children of their own (most endpoints) are all [`Node`]; nodes with children have a type of their
//! own, named after the accessor in a module named after the parent's: `paths::v3::fund_app::MchTransfer` is
//! `v3/fund-app/mch-transfer`. Each type's rustdoc, and each accessor's, lists the endpoint's HTTP methods with the
//! catalog's title for them (WeChat Pay's own name for the endpoint, e.g. "`POST`: 撤销转账到QQ钱包").
//!
//! # Names
//!
//! - a literal segment is its snake_case form: `fund_app()` is `fund-app`, `video_upload()` is `video_upload`,
//!   `add_institutionsub()` is `addInstitutionsub`;
//! - a placeholder `{name}` is `_name_()`, as in PHP: `_out_bill_no_()` is `{out_bill_no}`;
//! - Rust keywords use the raw form: `r#return()`, `r#use()`, `r#try()`;
//! - a trailing underscore marks a segment whose plain name is taken: by a verb (`delete_()` is the segment
//!   `delete`), or by a hyphenated twin (`policy_periods_()` is `policy_periods`, the sibling of `policy-periods`);
//! - the plain name of such a twin (`policy_periods()`, `applyment_id()`, `business_code()`) is the hyphenated
//!   segment, except under a parent whose only such child is the underscored one
//!   (`v3/applyment4sub/applyment/applyment_id`), where both names reach it;
//! - `trailing_slash()` is the empty last segment of the paths that end in `/`.
//!
//! # Cost
//!
//! An accessor returns a reference to a child cached in its parent, as before: the first call makes the node, every
//! later one is a lookup that allocates nothing. Nodes are `Send + Sync`, and their references live as long as the
//! root `Builder`. Indexing and accessors keep separate caches, so `instance.v3()` and `&instance["v3"]` are two
//! nodes with the same template (each cached, and equivalent in every request they make).
//!
//! # Walking the tree at run time
//!
//! [`Builder::accessors`] lists a node's typed accessors as [`Accessor`]s (name, segment, the endpoint's methods,
//! children), for tools that walk the catalog; it is empty for a path off the tree. [`root`] lists the first ones
//! without a `Builder`.
//!
//! [`url`]: Builder::url
//! [`template`]: Builder::template
//! [`chain`]: Builder::chain
//! [`verbatim`]: Builder::verbatim

use std::any::Any;
use std::fmt;
use std::ops::Deref;

use crate::Builder;

/// A node of the typed tree with no children in the catalog (most endpoints are one), and what every typed node
/// derefs to: a [`Builder`] (it derefs to one) with no accessors.
///
/// ```
/// # let instance = wechatpay::Builder::factory(serde_json::json!({"mchid": "1",
/// #   "serial": "5F1C72E2A8931B72A2E13AF8DEE92471EB397115",
/// #   "privateKey": "file://tests/fixtures/merchant_private_key.pem",
/// #   "certs": {"CD": "file://tests/fixtures/wechat_pay_public_key.pem"}}))?;
/// let native: &wechatpay::paths::Node = instance.v3().pay().transactions().native();
/// assert_eq!(native.template(), "v3/pay/transactions/native");
/// # Ok::<(), wechatpay::Error>(())
/// ```
pub struct Node(Builder);

impl Node {
    pub(crate) fn new(builder: Builder) -> Node {
        Node(builder)
    }
}

impl Deref for Node {
    type Target = Builder;

    fn deref(&self) -> &Builder {
        &self.0
    }
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// A typed child, as [`Builder::typed_child`] makes and caches it.
pub(crate) trait Typed: Any + Send + Sync {
    fn wrap(node: Node) -> Self;
}

impl Typed for Node {
    fn wrap(node: Node) -> Self {
        node
    }
}

pub(crate) mod sealed {
    /// Implemented by nothing: the bound that makes a root accessor (`v3()`, ...) below the root fail to compile.
    #[diagnostic::on_unimplemented(
        message = "`v3()`, `v2()`, `hk()` and `global()` start a path at the root, not below it",
        label = "not a child of this node",
        note = "call it on the `Builder` itself, or append the segment with `chain(\"v3\")`"
    )]
    pub trait RootOnly {}
}

/// One typed accessor of the tree, as [`Builder::accessors`] lists them.
///
/// ```
/// # let instance = wechatpay::Builder::factory(serde_json::json!({"mchid": "1",
/// #   "serial": "5F1C72E2A8931B72A2E13AF8DEE92471EB397115",
/// #   "privateKey": "file://tests/fixtures/merchant_private_key.pem",
/// #   "certs": {"CD": "file://tests/fixtures/wechat_pay_public_key.pem"}}))?;
/// let bills = instance.v3().fund_app().mch_transfer().transfer_to_qq_wallet_bills();
/// let [bill] = bills.accessors() else { panic!("one child") };
/// assert_eq!((bill.name(), bill.segment()), ("_out_bill_no_", "{out_bill_no}"));
/// assert_eq!(bill.methods(), ["GET"]);
/// let cancel = bill.children().iter().find(|a| a.name() == "cancel").unwrap();
/// assert_eq!(cancel.methods(), ["POST"]);
/// assert!(cancel.children().is_empty());
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accessor {
    names: &'static [&'static str],
    segment: &'static str,
    methods: &'static [&'static str],
    first: u16,
    count: u16,
}

impl Accessor {
    const fn new(
        names: &'static [&'static str],
        segment: &'static str,
        methods: &'static [&'static str],
        first: u16,
        count: u16,
    ) -> Accessor {
        Accessor { names, segment, methods, first, count }
    }

    /// The accessor's name: `"fund_app"`, `"_out_bill_no_"`, `"delete_"`, `"trailing_slash"`.
    ///
    /// ```
    /// let root = wechatpay::paths::root();
    /// assert!(root.iter().any(|a| a.name() == "v3"));
    /// ```
    pub fn name(&self) -> &'static str {
        self.names[0]
    }

    /// Every name that reaches this child: one, or two for an underscored twin with no hyphenated sibling
    /// (`["applyment_id", "applyment_id_"]` under `v3/applyment4sub/applyment`).
    ///
    /// ```
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({"mchid": "1",
    /// #   "serial": "5F1C72E2A8931B72A2E13AF8DEE92471EB397115",
    /// #   "privateKey": "file://tests/fixtures/merchant_private_key.pem",
    /// #   "certs": {"CD": "file://tests/fixtures/wechat_pay_public_key.pem"}}))?;
    /// let applyment = instance.v3().applyment4sub().applyment();
    /// let id = applyment.accessors().iter().find(|a| a.segment() == "applyment_id").unwrap();
    /// assert_eq!(id.names(), ["applyment_id", "applyment_id_"]);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn names(&self) -> &'static [&'static str] {
        self.names
    }

    /// The path segment it appends, exactly as the catalog writes it: `"fund-app"`, `"{out_bill_no}"`, `""` (the
    /// trailing slash).
    ///
    /// ```
    /// let v3 = wechatpay::paths::root().iter().find(|a| a.name() == "v3").unwrap();
    /// assert_eq!(v3.segment(), "v3");
    /// ```
    pub fn segment(&self) -> &'static str {
        self.segment
    }

    /// The HTTP methods of the endpoint at this node, in upper case and sorted; empty where the node is only a
    /// step towards endpoints.
    ///
    /// ```
    /// let v3 = wechatpay::paths::root().iter().find(|a| a.name() == "v3").unwrap();
    /// assert!(v3.methods().is_empty());
    /// let certificates = v3.children().iter().find(|a| a.name() == "certificates").unwrap();
    /// assert_eq!(certificates.methods(), ["GET"]);
    /// ```
    pub fn methods(&self) -> &'static [&'static str] {
        self.methods
    }

    /// The accessors of the node this one leads to.
    ///
    /// ```
    /// let v2 = wechatpay::paths::root().iter().find(|a| a.name() == "v2").unwrap();
    /// assert!(v2.children().iter().any(|a| a.name() == "secapi"));
    /// ```
    pub fn children(&self) -> &'static [Accessor] {
        let first = usize::from(self.first);
        &TABLE[first..first + usize::from(self.count)]
    }
}

/// The accessors of the root: the first segments (`v2`, `v3`, `hk`, `global`).
///
/// ```
/// let mut names: Vec<_> = wechatpay::paths::root().iter().map(|a| a.name()).collect();
/// names.sort();
/// assert_eq!(names, ["global", "hk", "v2", "v3"]);
/// ```
pub fn root() -> &'static [Accessor] {
    let (first, count) = (usize::from(ROOT.0), usize::from(ROOT.1));
    &TABLE[first..first + count]
}

/// The accessors of the tree node at `template` (`""` is the root), or none off the tree.
pub(crate) fn accessors_at(template: &str) -> &'static [Accessor] {
    let mut level = root();
    if template.is_empty() {
        return level;
    }
    for segment in template.split('/') {
        match level.iter().find(|accessor| accessor.segment == segment) {
            Some(accessor) => level = accessor.children(),
            None => return &[],
        }
    }
    level
}

/// Defines a typed node: the struct (its rustdoc from the catalog), its deref to [`Node`], `Debug`, and how
/// [`Builder::typed_child`] wraps it.
macro_rules! node {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// A typed node: it derefs to [`Builder`](crate::Builder) (see [`paths`](crate::paths)).
        pub struct $name(crate::paths::Node);

        // Hidden so that rustdoc does not copy Builder's whole API onto every node's page.
        #[doc(hidden)]
        impl std::ops::Deref for $name {
            type Target = crate::paths::Node;

            #[inline]
            fn deref(&self) -> &crate::paths::Node {
                &self.0
            }
        }

        impl std::fmt::Debug for $name {
            #[inline]
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(&self.0, f)
            }
        }

        impl crate::paths::Typed for $name {
            #[inline]
            fn wrap(node: crate::paths::Node) -> Self {
                $name(node)
            }
        }
    };
}

include!("paths/tree.rs");
