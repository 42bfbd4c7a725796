//! The chain: [`Builder`], the PHP SDK's `BuilderChain`. Every node is a path template; accessors, [`chain`] and
//! indexing append segments, and a verb sends the request.
//!
//! [`chain`]: Builder::chain

use std::any::{Any, TypeId};
use std::fmt;
use std::future::Future;
use std::io::Write;
use std::ops::Index;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use elsa::sync::FrozenMap;
use reqwest::Method;
use tokio::io::AsyncWrite;

use crate::client::Core;
use crate::config::IntoConfig;
use crate::download::{self, Checks, Downloaded, Job};
use crate::error::{Error, Result};
use crate::options::IntoOptions;
use crate::paths::{Accessor, Node, Typed};
use crate::response::Response;
use crate::runtime::ResponseFuture;
use crate::template::UriTemplate;

/// A node of the URI chain: the root made by [`Builder::factory`], or a path below it.
///
/// The three ways to reach an endpoint, as in PHP, all land on the same template:
///
/// ```no_run
/// use serde_json::json;
/// # fn demo(instance: wechatpay::Builder) -> wechatpay::Result<()> {
/// // PHP: $instance->v3->fundApp->mchTransfer->transferToQqWalletBills->_out_bill_no_->cancel->post([...])
/// let response = instance.v3().fund_app().mch_transfer().transfer_to_qq_wallet_bills()._out_bill_no_().cancel()
///     .post(json!({"out_bill_no": "plfk2020042013"}))?;
/// // PHP: $instance->chain('v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills/{out_bill_no}/cancel')->post([...])
/// let response = instance.chain("v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills/{out_bill_no}/cancel")
///     .post(json!({"out_bill_no": "plfk2020042013"}))?;
/// // PHP: $instance['v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills/{out_bill_no}/cancel']->post([...])
/// let response = instance["v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills/{out_bill_no}/cancel"]
///     .post(json!({"out_bill_no": "plfk2020042013"}))?;
/// // and each verb has an async twin: post_async(...).await
/// # Ok(()) }
/// ```
///
/// # Accessors: the typed path tree
///
/// Every node of WeChat Pay's ~1,000 endpoints has a typed accessor, generated from the catalog: `instance.v3()` is
/// a [`paths::V3`](crate::paths::V3) whose methods are exactly its children, and so on down to each endpoint, so a
/// wrong segment does not compile. Every typed node derefs to `Builder`. The names follow PHP's (`fund_app()` for
/// `fund-app`, `_out_bill_no_()` for `{out_bill_no}`); [`paths`](crate::paths) has the rule, the twins and keywords.
///
/// # Caching
///
/// Accessors and `instance["..."]` return a reference to a child node cached in its parent, as PHP's ArrayAccess
/// does: the same accessor or key gives the same node, and repeated use allocates nothing (accessors and indexing
/// keep separate caches). The cache keeps one node per
/// distinct key for as long as the indexed node lives (the root: as long as the `Builder`), since the references
/// it hands out must stay valid; nothing else bounds it. So never index with ever-new literal ids
/// (`instance[&format!(".../out-trade-no/{id}")]` costs a few hundred bytes per id, for good): put a placeholder in
/// the key and the id in the options (`instance[".../out-trade-no/{out_trade_no}"]`, one node for every id), or use
/// [`chain`](Self::chain), which returns a new node each time and caches nothing. A [`clone`](Clone::clone) starts
/// with an empty cache of its own, freed with it. `tests/child_cache.rs` measures all three.
///
/// # Threads
///
/// [`factory`](Self::factory) makes the connection pools and, on first use, the SDK's own runtimes that every node
/// of the chain shares: make the `Builder` once and keep it (it is `Send + Sync`; clone it or put it in an `Arc`),
/// rather than one per request. The async verbs run on a small multi-threaded Tokio runtime (see
/// [`ConfigBuilder::io_threads`](crate::ConfigBuilder::io_threads)). The blocking verbs run on the calling thread,
/// which signs, sends, waits for the answer and verifies it itself, with a pool of their own (no hand-over to
/// another thread and back per request); called on a thread of a multi-threaded Tokio runtime, they let it move its
/// other tasks elsewhere meanwhile. Inside a current-thread runtime, whose thread is held for the duration of the
/// call, they wait for the I/O runtime instead, so a custom [`Signer`](crate::Signer) must not need that runtime to
/// make progress: use the `_async` verbs there. A blocking verb called from inside a request (from a `Signer` or
/// `Verifier`) is an [`Error::Runtime`], never a deadlock.
pub struct Builder {
    core: Arc<Core>,
    template: String,
    parsed: OnceLock<std::result::Result<UriTemplate, String>>,
    /// Children by exact segment: index keys that normalisation leaves as they are.
    children: FrozenMap<String, Box<Builder>>,
    /// Children by index key as written, for keys that normalisation changes (`fundApp` → `fund-app`).
    renamed: FrozenMap<String, Box<Builder>>,
    /// Typed children (see [`paths`](crate::paths)) by type and segment: the type makes the key unique even where
    /// two accessors append the same segment as different types (`hk().v3()` and, through deref, `Builder::v3`).
    typed: FrozenMap<(TypeId, &'static str), Box<dyn Any + Send + Sync>>,
}

impl Builder {
    /// The root of a chain: checks the config (see [`Config`](crate::Config)) and parses the keys, once.
    ///
    /// ```
    /// use serde_json::json;
    /// use wechatpay::Builder;
    ///
    /// let instance = Builder::factory(json!({
    ///     "mchid": "1900000001",
    ///     "serial": "5F1C72E2A8931B72A2E13AF8DEE92471EB397115",
    ///     "privateKey": "file://tests/fixtures/merchant_private_key.pem",
    ///     "certs": {"PUB_KEY_ID_0114232134912410000000000000000": "file://tests/fixtures/wechat_pay_public_key.pem"},
    /// }))?;
    /// assert_eq!(instance.v3().fund_app().template(), "v3/fund-app");
    ///
    /// let no_key = json!({"mchid": "1900000001", "serial": "5F1C72E2A8931B72A2E13AF8DEE92471EB397115"});
    /// let err = Builder::factory(no_key).unwrap_err();
    /// assert!(err.to_string().contains("privateKey"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn factory(config: impl IntoConfig) -> Result<Builder> {
        let core = Arc::new(Core::new(config.into_config()?)?);
        core.start_auto_refresh();
        Ok(Builder::node(core, String::new()))
    }

    /// The configuration, HTTP pool and runtime every node of this chain shares.
    pub(crate) fn core(&self) -> &Arc<Core> {
        &self.core
    }

    fn node(core: Arc<Core>, template: String) -> Builder {
        Builder {
            core,
            template,
            parsed: OnceLock::new(),
            children: FrozenMap::new(),
            renamed: FrozenMap::new(),
            typed: FrozenMap::new(),
        }
    }

    /// The configuration this chain was made with.
    ///
    /// ```
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({"mchid": "1",
    /// #   "serial": "5F1C72E2A8931B72A2E13AF8DEE92471EB397115",
    /// #   "privateKey": "file://tests/fixtures/merchant_private_key.pem",
    /// #   "certs": {"CD": "file://tests/fixtures/wechat_pay_public_key.pem"}}))?;
    /// assert_eq!(instance.v3().pay().config().mchid(), "1");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn config(&self) -> &crate::Config {
        &self.core.config
    }

    /// The path template of this node, e.g. `v3/pay/transactions/id/{transaction_id}` (empty at the root).
    ///
    /// ```
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({"mchid": "1",
    /// #   "serial": "5F1C72E2A8931B72A2E13AF8DEE92471EB397115",
    /// #   "privateKey": "file://tests/fixtures/merchant_private_key.pem",
    /// #   "certs": {"CD": "file://tests/fixtures/wechat_pay_public_key.pem"}}))?;
    /// assert_eq!(instance.template(), "");
    /// assert_eq!(instance.v3().pay().transactions().template(), "v3/pay/transactions");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn template(&self) -> &str {
        &self.template
    }

    /// A new node `key` below this one. `key` may hold several segments and placeholders (`{var}`, `{+var}`) and is
    /// normalised as PHP does: a leading capital is lowered, every other capital `X` becomes `-x`, and a whole key
    /// `_name_` becomes `{name}`. A leading `/` at the root is ignored.
    ///
    /// ```
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({"mchid": "1",
    /// #   "serial": "5F1C72E2A8931B72A2E13AF8DEE92471EB397115",
    /// #   "privateKey": "file://tests/fixtures/merchant_private_key.pem",
    /// #   "certs": {"CD": "file://tests/fixtures/wechat_pay_public_key.pem"}}))?;
    /// let notifications = instance.chain("v3/merchantService/complaintNotifications");
    /// assert_eq!(notifications.template(), "v3/merchant-service/complaint-notifications");
    /// // Only the key's first character is "leading": a capital after a `/` gets its `-`, as in PHP.
    /// assert_eq!(instance.v3().chain("MerchantService").template(), "v3/merchant-service");
    /// assert_eq!(instance.chain("v3/MerchantService").template(), "v3/-merchant-service");
    /// assert_eq!(instance.v3().pay().chain("_transaction_id_").template(), "v3/pay/{transaction_id}");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn chain(&self, key: &str) -> Builder {
        Builder::node(Arc::clone(&self.core), self.join(&normalize(key)))
    }

    /// A new node `path` below this one, exactly as written: no PHP normalisation. For the few segments with
    /// capitals (APIv2's `secapi/mch/addInstitutionsub`), which [`chain`](Self::chain) would turn into `-x`.
    ///
    /// ```
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({"mchid": "1",
    /// #   "serial": "5F1C72E2A8931B72A2E13AF8DEE92471EB397115",
    /// #   "privateKey": "file://tests/fixtures/merchant_private_key.pem",
    /// #   "certs": {"CD": "file://tests/fixtures/wechat_pay_public_key.pem"}}))?;
    /// assert_eq!(instance.verbatim("v2/secapi/mch/addInstitutionsub").template(), "v2/secapi/mch/addInstitutionsub");
    /// assert_eq!(instance.chain("v2/secapi/mch/addInstitutionsub").template(), "v2/secapi/mch/add-institutionsub");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn verbatim(&self, path: &str) -> Builder {
        Builder::node(Arc::clone(&self.core), self.join(path))
    }

    /// This node's template and `key`, joined by one `/` (a leading `/` on `key` never doubles it).
    fn join(&self, key: &str) -> String {
        let key = key.trim_start_matches('/');
        if self.template.is_empty() { key.to_owned() } else { format!("{}/{key}", self.template) }
    }

    /// The cached child for an exact (already normalised) segment.
    fn segment(&self, segment: &str) -> &Builder {
        if let Some(child) = self.children.get(segment) {
            return child;
        }
        self.children
            .insert_with(segment.to_owned(), || Box::new(Builder::node(Arc::clone(&self.core), self.join(segment))))
    }

    /// The typed child `T` for `segment`, made on first use and cached: what every generated accessor calls.
    pub(crate) fn typed_child<T: Typed>(&self, segment: &'static str) -> &T {
        let child = self.cached_typed(TypeId::of::<T>(), segment, |node| Box::new(T::wrap(node)));
        match child.downcast_ref::<T>() {
            Some(child) => child,
            None => unreachable!("typed children are keyed by their own TypeId"),
        }
    }

    /// The untyped half of [`typed_child`](Self::typed_child), shared by every node type (compiled once, not once
    /// per type).
    fn cached_typed(
        &self,
        type_id: TypeId,
        segment: &'static str,
        make: fn(Node) -> Box<dyn Any + Send + Sync>,
    ) -> &(dyn Any + Send + Sync) {
        let key = (type_id, segment);
        match self.typed.get(&key) {
            Some(child) => child,
            None => self
                .typed
                .insert_with(key, || make(Node::new(Builder::node(Arc::clone(&self.core), self.join(segment))))),
        }
    }

    /// The typed accessors of this node's template (the generated tree's children of it), for tools that walk the
    /// catalog; empty for a path off the tree. See [`paths`](crate::paths) for the typed methods themselves.
    ///
    /// ```
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({"mchid": "1",
    /// #   "serial": "5F1C72E2A8931B72A2E13AF8DEE92471EB397115",
    /// #   "privateKey": "file://tests/fixtures/merchant_private_key.pem",
    /// #   "certs": {"CD": "file://tests/fixtures/wechat_pay_public_key.pem"}}))?;
    /// let refunds = instance.v3().refund().domestic().refunds();
    /// let names: Vec<_> = refunds.accessors().iter().map(|a| a.name()).collect();
    /// assert_eq!(names, ["_out_refund_no_", "_refund_id_"]);
    /// // Any node with a catalog template has them, however it was reached.
    /// assert_eq!(instance.chain("v3/refund/domestic/refunds").accessors(), refunds.accessors());
    /// assert!(instance.chain("v3/nowhere").accessors().is_empty());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn accessors(&self) -> &'static [Accessor] {
        crate::paths::accessors_at(&self.template)
    }

    fn parsed(&self) -> Result<&UriTemplate> {
        self.parsed
            .get_or_init(|| {
                UriTemplate::parse(&self.template).map_err(|err| match err {
                    Error::Template { reason, .. } => reason,
                    other => other.to_string(),
                })
            })
            .as_ref()
            .map_err(|reason| Error::template(&self.template, reason))
    }

    /// The URL a request with these options would go to, without sending it: the template expanded, the query
    /// appended. Useful to check a path before sending, and in tests.
    ///
    /// ```
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({"mchid": "1",
    /// #   "serial": "5F1C72E2A8931B72A2E13AF8DEE92471EB397115",
    /// #   "privateKey": "file://tests/fixtures/merchant_private_key.pem",
    /// #   "certs": {"CD": "file://tests/fixtures/wechat_pay_public_key.pem"}}))?;
    /// let url = instance.v3().pay().transactions().out_trade_no()._out_trade_no_()
    ///     .url(serde_json::json!({"out_trade_no": "1217752501201407033233368018", "query": {"mchid": "1230000109"}}))?;
    /// assert_eq!(url, "https://api.mch.weixin.qq.com/v3/pay/transactions/out-trade-no/1217752501201407033233368018?mchid=1230000109");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn url(&self, options: impl IntoOptions) -> Result<String> {
        Ok(self.core.prepare(Method::GET, self.parsed()?, options.into_options()?)?.url().to_owned())
    }

    /// Sends `method` to this node and waits: the general form of the blocking verbs.
    ///
    /// ```
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    /// let response = instance.v3().certificates().request(wechatpay::Method::GET, ())?;
    /// assert_eq!(response.status(), 200);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn request(&self, method: Method, options: impl IntoOptions) -> Result<Response> {
        let prepared = self.core.prepare(method, self.parsed()?, options.into_options()?)?;
        self.core.block(prepared)
    }

    /// Sends `method` to this node: the general form of the async verbs.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> wechatpay::Result<()> {
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    /// let response = instance.v3().certificates().request_async(wechatpay::Method::GET, ()).await?;
    /// assert_eq!(response.status(), 200);
    /// # Ok(()) }
    /// ```
    pub fn request_async(&self, method: Method, options: impl IntoOptions) -> ResponseFuture {
        let prepared = self.parsed().and_then(|template| self.core.prepare(method, template, options.into_options()?));
        match prepared {
            Ok(prepared) => self.core.spawn(prepared),
            Err(err) => ResponseFuture::failed(err),
        }
    }

    /// `GET` this node and wait for the verified answer. Works from a plain `fn main()` and from inside an async
    /// runtime (the request runs on the SDK's own I/O threads).
    ///
    /// ```
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    /// let response = instance.v3().certificates().get(serde_json::json!({"query": {"algorithm_type": "RSA"}}))?;
    /// assert_eq!(response.json::<serde_json::Value>()?["data"][0]["serial_no"], ids.platform.serial.as_str());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn get(&self, options: impl IntoOptions) -> Result<Response> {
        self.request(Method::GET, options)
    }

    /// `PUT`, blocking.
    ///
    /// ```
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    /// let response = instance.v3().merchant_service().complaint_notifications()
    ///     .put(serde_json::json!({"json": {"url": "https://example.com/complaints"}}))?;
    /// assert_eq!(response.status(), 200);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn put(&self, options: impl IntoOptions) -> Result<Response> {
        self.request(Method::PUT, options)
    }

    /// `POST`, blocking.
    ///
    /// ```
    /// use serde_json::json;
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    /// let notifications = instance.v3().merchant_service().complaint_notifications();
    /// assert_eq!(notifications.post(json!({"json": {"url": "https://example.com/complaints"}}))?.status(), 200);
    /// // A 4xx answer is an error, not a Response.
    /// let err = notifications.post(json!({"json": {}})).unwrap_err();
    /// assert!(matches!(err, wechatpay::Error::Api { status: 400, .. }));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn post(&self, options: impl IntoOptions) -> Result<Response> {
        self.request(Method::POST, options)
    }

    /// `PATCH`, blocking.
    ///
    /// ```
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    /// let response = instance.v3().goldplan().merchants().open_advertising_show()
    ///     .patch(serde_json::json!({"json": {"sub_mchid": "1900000109"}}))?;
    /// assert_eq!(response.status(), 204);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn patch(&self, options: impl IntoOptions) -> Result<Response> {
        self.request(Method::PATCH, options)
    }

    /// `DELETE`, blocking. (The path segment `delete` is the accessor `delete_()`.)
    ///
    /// ```
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    /// let response = instance.v3().merchant_service().complaint_notifications().delete(())?;
    /// assert_eq!(response.status(), 204);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn delete(&self, options: impl IntoOptions) -> Result<Response> {
        self.request(Method::DELETE, options)
    }

    /// `GET`, as a `Send + 'static` future (it can be `tokio::spawn`ed, or awaited on any executor).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> wechatpay::Result<()> {
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    /// // The future owns everything it needs, so it can be spawned.
    /// let future = instance.v3().certificates().get_async(());
    /// let response = tokio::spawn(future).await.expect("not cancelled")?;
    /// assert_eq!(response.verified_by(), Some(ids.platform.serial.as_str()));
    /// # Ok(()) }
    /// ```
    pub fn get_async(&self, options: impl IntoOptions) -> ResponseFuture {
        self.request_async(Method::GET, options)
    }

    /// `PUT`, as a future.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> wechatpay::Result<()> {
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    /// let response = instance.v3().merchant_service().complaint_notifications()
    ///     .put_async(serde_json::json!({"json": {"url": "https://example.com/complaints"}}))
    ///     .await?;
    /// assert_eq!(response.status(), 200);
    /// # Ok(()) }
    /// ```
    pub fn put_async(&self, options: impl IntoOptions) -> ResponseFuture {
        self.request_async(Method::PUT, options)
    }

    /// `POST`, as a future.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> wechatpay::Result<()> {
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    /// let response = instance.v3().merchant_service().complaint_notifications()
    ///     .post_async(serde_json::json!({"json": {"url": "https://example.com/complaints"}}))
    ///     .await?;
    /// assert_eq!(response.status(), 200);
    /// # Ok(()) }
    /// ```
    pub fn post_async(&self, options: impl IntoOptions) -> ResponseFuture {
        self.request_async(Method::POST, options)
    }

    /// `PATCH`, as a future.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> wechatpay::Result<()> {
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    /// let response = instance.v3().goldplan().merchants().open_advertising_show()
    ///     .patch_async(serde_json::json!({"json": {"sub_mchid": "1900000109"}}))
    ///     .await?;
    /// assert_eq!(response.status(), 204);
    /// # Ok(()) }
    /// ```
    pub fn patch_async(&self, options: impl IntoOptions) -> ResponseFuture {
        self.request_async(Method::PATCH, options)
    }

    /// `DELETE`, as a future.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> wechatpay::Result<()> {
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    /// let response = instance.v3().merchant_service().complaint_notifications().delete_async(()).await?;
    /// assert_eq!(response.status(), 204);
    /// # Ok(()) }
    /// ```
    pub fn delete_async(&self, options: impl IntoOptions) -> ResponseFuture {
        self.request_async(Method::DELETE, options)
    }
    /// `GET` this node and stream the answer's body into `writer`, never holding it whole in memory: for the
    /// downloads WeChat Pay answers unsigned (bill files at `v3/billdownload/file`, merchant-service images at
    /// `v3/merchant-service/images/{media_id}`) and the overseas statements (`v3/global/statements`,
    /// `hk/v3/statements`), whose signed `Wechatpay-Statement-Sha1` is checked before the body and compared with
    /// its SHA-1 at the end. Other answers are signed over their whole body and cannot be checked while they
    /// stream: they are refused before anything is sent (use [`get`](Self::get)). For a bill,
    /// [`Bill`](crate::Bill) does more: it checks the apply's `hash_value`, gunzips and decrypts.
    ///
    /// ```
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    /// let mut image = Vec::new();
    /// let downloaded = instance.v3().merchant_service().images()._media_id_()
    ///     .download(serde_json::json!({"media_id": "ABC.png"}), &mut image)?;
    /// assert_eq!(downloaded.bytes(), image.len() as u64);
    ///
    /// // An answer signed over its whole body does not stream.
    /// let err = instance.v3().certificates().download((), &mut Vec::new()).unwrap_err();
    /// assert!(matches!(err, wechatpay::Error::Unsupported { .. }));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn download(&self, options: impl IntoOptions, writer: &mut (impl Write + ?Sized)) -> Result<Downloaded> {
        download::to_writer(&self.core, vec![self.download_job(options)?], writer)
    }

    /// As [`download`](Self::download), into a file at `path`: written under a hidden temporary name beside it and
    /// renamed to `path` only once complete and checked.
    ///
    /// ```
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    /// # let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("statement-20240102.csv");
    /// let statement = instance.v3().global().statements()
    ///     .download_to_file(serde_json::json!({"query": {"date": "20240102"}}), &path)?;
    /// assert!(statement.verified());
    /// assert_eq!(std::fs::metadata(&path).unwrap().len(), statement.bytes());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn download_to_file(&self, options: impl IntoOptions, path: impl AsRef<Path>) -> Result<Downloaded> {
        download::to_file(&self.core, vec![self.download_job(options)?], path.as_ref())
    }

    /// As [`download`](Self::download), into an async writer: the connection is read on the SDK's I/O threads, the
    /// bytes are written by this future.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> wechatpay::Result<()> {
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    /// let mut image = Vec::new();
    /// let downloaded = instance.v3().merchant_service().images()._media_id_()
    ///     .download_async(serde_json::json!({"media_id": "ABC.png"}), &mut image).await?;
    /// assert_eq!(downloaded.bytes(), image.len() as u64);
    /// # Ok(()) }
    /// ```
    pub fn download_async<'w, W: AsyncWrite + Unpin + ?Sized>(
        &self,
        options: impl IntoOptions,
        writer: &'w mut W,
    ) -> impl Future<Output = Result<Downloaded>> + 'w {
        let core = Arc::clone(&self.core);
        let job = self.download_job(options);
        async move { download::to_async_writer(core, vec![job?], writer).await }
    }

    /// As [`download_to_file`](Self::download_to_file), as a `Send + 'static` future running on the SDK's I/O
    /// threads; dropping it cancels the download and removes the temporary file.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> wechatpay::Result<()> {
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    /// # let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("logo.png");
    /// let future = instance.v3().merchant_service().images()._media_id_()
    ///     .download_to_file_async(serde_json::json!({"media_id": "ABC.png"}), &path);
    /// let downloaded = tokio::spawn(future).await.expect("not cancelled")?;
    /// assert_eq!(downloaded.path(), Some(path.as_path()));
    /// # Ok(()) }
    /// ```
    pub fn download_to_file_async(
        &self,
        options: impl IntoOptions,
        path: impl Into<PathBuf>,
    ) -> ResponseFuture<Downloaded> {
        match self.download_job(options) {
            Ok(job) => download::to_file_async(Arc::clone(&self.core), vec![job], path.into()),
            Err(err) => ResponseFuture::failed(err),
        }
    }

    /// A streamed `GET` of this node, refused up front when its answer cannot be checked while it streams.
    fn download_job(&self, options: impl IntoOptions) -> Result<Job> {
        let options = options.into_options()?;
        let whole_timeout = options.timeout;
        let mut prepared = self.core.prepare(Method::GET, self.parsed()?, options)?;
        if prepared.xml.is_some() {
            return Err(Error::Unsupported {
                what: format!("streaming the answer to /{}", prepared.relative_path(&self.core.config.base_uri)),
                hint: "APIv2 answers, bill files included, are read whole: use post() with the `xml` option, and \
                       raise ConfigBuilder::max_response_size (maxResponseSize) for large bills",
            });
        }
        // Guzzle's options for whole answers have no meaning here: refused rather than silently ignored.
        if prepared.handling.sink.is_some() {
            return Err(Error::options(
                "`sink` does not apply to a download, which already writes where you say: use download_to_file() \
                 to write a file",
            ));
        }
        if !prepared.handling.http_errors {
            return Err(Error::options(
                "`http_errors => false` does not apply to a download: an error answer is Error::Api (its status, \
                 code and message); use get() with `http_errors => false` to read error answers as responses",
            ));
        }
        // Only a timeout given for this download bounds it whole (see ConfigBuilder::timeout).
        prepared.timeout = whole_timeout;
        self.core.streamable(&prepared)?;
        let what = format!("the answer to GET /{}", prepared.relative_path(&self.core.config.base_uri));
        Ok(Job { prepared, verify_head: true, checks: Checks { what, sha1: None, gzip: false, decrypt: None } })
    }
}

/// `instance["v3/pay/transactions/native"]`: the cached child node for `key`, normalised as [`Builder::chain`]
/// normalises it.
///
/// ```
/// # let instance = wechatpay::Builder::factory(serde_json::json!({"mchid": "1",
/// #   "serial": "5F1C72E2A8931B72A2E13AF8DEE92471EB397115",
/// #   "privateKey": "file://tests/fixtures/merchant_private_key.pem",
/// #   "certs": {"CD": "file://tests/fixtures/wechat_pay_public_key.pem"}}))?;
/// let node = &instance["v3/pay/transactions/outTradeNo/{out_trade_no}"];
/// assert_eq!(node.template(), "v3/pay/transactions/out-trade-no/{out_trade_no}");
/// // The same key gives the same cached node.
/// assert!(std::ptr::eq(node, &instance["v3/pay/transactions/outTradeNo/{out_trade_no}"]));
/// # Ok::<(), wechatpay::Error>(())
/// ```
impl Index<&str> for Builder {
    type Output = Builder;

    fn index(&self, key: &str) -> &Builder {
        if !changes_under_normalize(key) {
            return self.segment(key);
        }
        if let Some(child) = self.renamed.get(key) {
            return child;
        }
        let normalized = normalize(key);
        self.renamed
            .insert_with(key.to_owned(), || Box::new(Builder::node(Arc::clone(&self.core), self.join(&normalized))))
    }
}

impl Clone for Builder {
    /// The same node, sharing the configuration and connection pool, with an empty child cache.
    fn clone(&self) -> Self {
        Builder::node(Arc::clone(&self.core), self.template.clone())
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("template", &self.template)
            .field("mchid", &self.core.config.mchid)
            .field("base_uri", &self.core.config.base_uri.as_str())
            .finish_non_exhaustive()
    }
}

/// Whether [`normalize`] would change `key`; checked without allocating, so repeated indexing costs no allocation.
fn changes_under_normalize(key: &str) -> bool {
    key.bytes().any(|b| b.is_ascii_uppercase()) || (key.len() >= 2 && key.starts_with('_') && key.ends_with('_'))
}

/// PHP's key normalisation, exactly: lower a leading capital, turn every other capital `X` into `-x`, then turn a
/// whole key `_name_` into `{name}`.
fn normalize(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for (i, c) in key.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    if out.len() >= 2 && out.starts_with('_') && out.ends_with('_') {
        return format!("{{{}}}", &out[1..out.len() - 1]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn normalisation_is_phps() {
        assert_eq!(normalize("fundApp"), "fund-app");
        assert_eq!(normalize("ComplaintNotifications"), "complaint-notifications");
        assert_eq!(normalize("transferToQqWalletBills"), "transfer-to-qq-wallet-bills");
        assert_eq!(normalize("_out_bill_no_"), "{out_bill_no}");
        assert_eq!(normalize("video_upload"), "video_upload");
        assert_eq!(normalize("v3/fund-app/{out_bill_no}/cancel"), "v3/fund-app/{out_bill_no}/cancel");
        assert_eq!(normalize("{+myurl}"), "{+myurl}");
        assert_eq!(normalize("_outBillNo_"), "{out-bill-no}");
        assert_eq!(normalize("_"), "_");
    }
}
