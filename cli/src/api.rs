//! `wechatpay api METHOD URI`: any endpoint through the library's pipeline (sign, send, verify; APIv2's XML and
//! mutual TLS), the verified answer on stdout.

use serde_json::{Map, Value};
use wechatpay::{Builder, Error, Method, Options, Response, UriTemplate};

use crate::args::ApiArgs;
use crate::credentials::Client;
use crate::failure::{Failure, Result};
use crate::io::{self, Stdin, Style};

pub fn run(args: &ApiArgs) -> Result {
    let method = method(&args.method)?;
    let (path, query) = args.uri.split_once('?').unwrap_or((&args.uri, ""));
    if path.starts_with("http://") || path.starts_with("https://") {
        return Err(Failure::usage(format!(
            "`{}` is a URL: give the path (v3/...), and the host with -u/--base-uri (WECHATPAY_BASE_URI)",
            args.uri
        )));
    }
    let v2 = path.trim_start_matches('/').split('/').next() == Some("v2");
    check_protocol_flags(args, v2)?;

    let instance = Client {
        merchant: Some(&args.merchant),
        platform: Some(&args.platform),
        apiv3: Some(&args.apiv3),
        apiv2: Some(&args.apiv2),
        tls: Some(&args.tls),
        ca: Some(&args.ca),
        endpoint: Some(&args.endpoint),
        needs_apiv3_key: false,
    }
    .build()?;
    let node = chain(&instance, path, args.verbatim);
    let options = options(args, &node, query)?;
    let style = Style::choose(args.pretty, args.raw);
    match node.request(method, options) {
        Ok(response) => print_response(&response, args.include, style, v2),
        Err(err) => {
            print_error_answer(&err, args.include, style)?;
            Err(Failure::from(err))
        }
    }
}

fn method(method: &str) -> Result<Method> {
    match method.to_ascii_uppercase().as_str() {
        "GET" => Ok(Method::GET),
        "POST" => Ok(Method::POST),
        "PUT" => Ok(Method::PUT),
        "PATCH" => Ok(Method::PATCH),
        "DELETE" => Ok(Method::DELETE),
        _ => {
            Err(Failure::usage(format!("`{method}` is not a method WeChat Pay uses: GET, POST, PUT, PATCH or DELETE")))
        }
    }
}

/// Refuses the flags of the other protocol before anything is sent.
fn check_protocol_flags(args: &ApiArgs, v2: bool) -> Result {
    let misplaced = if v2 {
        [(args.json.is_some(), "--json"), (!args.encrypt.is_empty(), "--encrypt")]
            .into_iter()
            .find_map(|(given, flag)| given.then_some((flag, "APIv3", "use --xml for an APIv2 payload")))
    } else {
        [(args.xml.is_some(), "--xml"), (args.security, "--security"), (args.nonceless, "--nonceless")]
            .into_iter()
            .find_map(|(given, flag)| given.then_some((flag, "APIv2", "APIv2 URIs start with v2/")))
    };
    match misplaced {
        Some((flag, protocol, hint)) => Err(Failure::usage(format!("{flag} is for {protocol} only: {hint}"))),
        None => Ok(()),
    }
}

/// The node for `path`, each segment chained as a PHP property would be (`fundApp` is `fund-app`, `_id_` is
/// `{id}`), or as written with `--verbatim`.
fn chain(instance: &Builder, path: &str, verbatim: bool) -> Builder {
    let path = path.strip_prefix('/').unwrap_or(path);
    if verbatim {
        return instance.verbatim(path);
    }
    let mut segments = path.split('/');
    let first = instance.chain(segments.next().unwrap_or_default());
    segments.fold(first, |node, segment| node.chain(segment))
}

fn options(args: &ApiArgs, node: &Builder, query: &str) -> Result<Options> {
    let stdin = Stdin::default();
    let body = match &args.json {
        Some(json) => Some(
            serde_json::from_slice::<Value>(&stdin.text_or_file(json, "--json")?)
                .map_err(|err| Failure::usage(format!("--json: the body is not JSON: {err}")))?,
        ),
        None => None,
    };
    let template = UriTemplate::parse(node.template())?;
    let placeholders: Vec<&str> = template.variables().collect();
    let mut options = Options::new();
    let mut filled = Vec::new();
    for field in &args.fields {
        let (name, value) = io::name_value(field, "-F")?;
        if !placeholders.contains(&name) {
            let known = match placeholders.as_slice() {
                [] => "it has none".to_owned(),
                names => {
                    format!("it has {}", names.iter().map(|name| format!("{{{name}}}")).collect::<Vec<_>>().join(", "))
                }
            };
            return Err(Failure::usage(format!(
                "-F {name}: `{}` has no placeholder {{{name}}}; {known}",
                node.template()
            )));
        }
        filled.push(name);
        options = options.var(name, value);
    }
    // As in the library, top-level fields of the JSON body fill the placeholders -F leaves.
    let in_body = |name: &str| body.as_ref().and_then(|body| body.get(name)).is_some();
    if let Some(name) = placeholders.iter().find(|name| !filled.contains(name) && !in_body(name)) {
        return Err(Failure::usage(format!("`{}` needs a value for {{{name}}}: add -F {name}=VALUE", node.template())));
    }
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        options = options.query(name, value);
    }
    for pair in &args.query {
        let (name, value) = io::name_value(pair, "--query")?;
        options = options.query(name, value);
    }
    for header in &args.headers {
        let Some((name, value)) = header.split_once(':').filter(|(name, _)| !name.trim().is_empty()) else {
            return Err(Failure::usage(format!("-H `{header}`: write it as 'Name: value'")));
        };
        options = options.header(name.trim(), value.trim());
    }
    if let Some(body) = &body {
        options = options.json(body);
    }
    if !args.encrypt.is_empty() {
        if args.json.is_none() {
            return Err(Failure::usage("--encrypt names fields of the --json body: give --json too"));
        }
        options = options.encrypt_fields(args.encrypt.iter().cloned());
    }
    if let Some(xml) = &args.xml {
        options = options.xml(flat_object(&stdin.text_or_file(xml, "--xml")?)?);
    }
    Ok(options.security(args.security).nonceless(args.nonceless))
}

/// An APIv2 payload: a JSON object of text, numbers and booleans.
fn flat_object(bytes: &[u8]) -> Result<Map<String, Value>> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(Failure::usage("--xml: give a flat JSON object, e.g. '{\"appid\":\"wx...\",\"mch_id\":\"...\"}'")),
        Err(err) => Err(Failure::usage(format!("--xml: the payload is not JSON: {err}"))),
    }
}

fn print_response(response: &Response, include: bool, style: Style, v2: bool) -> Result {
    if include {
        let mut head = status_line(response.status().as_u16());
        if let Some(id) = response.request_id() {
            head.push_str(&format!("Request-ID: {id}\n"));
        }
        for (name, value) in response.headers() {
            if name.as_str().eq_ignore_ascii_case("request-id") {
                continue;
            }
            head.push_str(&format!(
                "{}: {}\n",
                io::header_name(name.as_str()),
                String::from_utf8_lossy(value.as_bytes())
            ));
        }
        head.push('\n');
        io::out(head.as_bytes())?;
    }
    if v2 && style != Style::Raw {
        return io::print_json(&Value::Object(response.xml()?), style);
    }
    io::print_body(response.bytes(), style)
}

/// What WeChat Pay answered, when the failure is its answer: the body on stdout (as `gh api` does), the message
/// on stderr. Answers that failed verification are not printed: they cannot be trusted.
fn print_error_answer(err: &Error, include: bool, style: Style) -> Result {
    match err {
        Error::Api { status, request_id, body, .. } => {
            if include {
                let mut head = status_line(*status);
                if let Some(id) = request_id {
                    head.push_str(&format!("Request-ID: {id}\n"));
                }
                head.push('\n');
                io::out(head.as_bytes())?;
            }
            io::print_body(body, style)
        }
        Error::ApiV2(failure) if style == Style::Raw => io::out(&failure.body),
        Error::ApiV2(failure) => io::print_json(&Value::Object(failure.fields.clone()), style),
        _ => Ok(()),
    }
}

fn status_line(status: u16) -> String {
    let reason = wechatpay::StatusCode::from_u16(status).ok().and_then(|code| code.canonical_reason()).unwrap_or("");
    format!("HTTP/1.1 {status} {reason}\n")
}
