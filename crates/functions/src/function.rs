//! A function's configuration ([`Function`]: `$LATEST` or a published version), what a create
//! or update may set ([`Settings`]), aliases ([`Alias`]), AWS's rules for them, and function
//! names, qualifiers ([`Qualifier`]) and ARNs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sluice_types::{Arn, QualifiedName};

use crate::Error;

pub use sluice_types::Scope;

/// The Lambda ARNs made in a [`Scope`] (in its partition: `arn:aws-cn:lambda:...` in China).
pub trait LambdaArns {
    /// `arn:<partition>:lambda:<region>:<account>:function:<name>`.
    fn function_arn(&self, name: &str) -> String;

    /// `arn:<partition>:lambda:<region>:<account>:function:<name>:<qualifier>` (a version or
    /// an alias).
    fn qualified_arn(&self, name: &str, qualifier: &str) -> String {
        format!("{}:{qualifier}", self.function_arn(name))
    }
}

impl LambdaArns for Scope {
    fn function_arn(&self, name: &str) -> String {
        self.arn("lambda", &format!("function:{name}"))
    }
}

/// AWS's defaults and limits.
pub mod limits {
    /// Timeout when a create gives none, in seconds.
    pub const DEFAULT_TIMEOUT: u32 = 3;
    /// The longest timeout, in seconds.
    pub const MAX_TIMEOUT: u32 = 900;
    /// Memory when a create gives none, in MB.
    pub const DEFAULT_MEMORY: u32 = 128;
    pub const MIN_MEMORY: u32 = 128;
    pub const MAX_MEMORY: u32 = 10_240;
    /// The largest zip accepted in a request (`ZipFile`): 50 MB.
    pub const MAX_ZIPPED_BYTES: u64 = 52_428_800;
    /// The largest unzipped code: 250 MB.
    pub const MAX_UNZIPPED_BYTES: u64 = 262_144_000;
    /// The largest synchronous invocation payload and response: 6 MB.
    pub const MAX_SYNC_PAYLOAD: usize = 6_291_456;
    /// The largest asynchronous (Event) invocation payload: 256 KB.
    pub const MAX_ASYNC_PAYLOAD: usize = 262_144;
    /// The largest size of the environment variables (as JSON): 4 KB.
    pub const MAX_ENVIRONMENT_BYTES: usize = 4096;
    /// The longest function name.
    pub const MAX_NAME: usize = 64;
}

/// The runtimes AWS's model accepts (`Runtime` enum, botocore 1.44.5): any of them can be
/// created; [`RuntimeKind::of`] says which Sluice can run. Kept equal to the model's
/// list by a test of `sluice-api`'s generated Lambda model.
pub const RUNTIMES: &[&str] = &[
    "nodejs",
    "nodejs4.3",
    "nodejs6.10",
    "nodejs8.10",
    "nodejs10.x",
    "nodejs12.x",
    "nodejs14.x",
    "nodejs16.x",
    "nodejs18.x",
    "nodejs20.x",
    "nodejs22.x",
    "nodejs24.x",
    "java8",
    "java8.al2",
    "java11",
    "java17",
    "java21",
    "java25",
    "python2.7",
    "python3.6",
    "python3.7",
    "python3.8",
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "python3.14",
    "dotnetcore1.0",
    "dotnetcore2.0",
    "dotnetcore2.1",
    "dotnetcore3.1",
    "dotnet6",
    "dotnet8",
    "dotnet10",
    "nodejs4.3-edge",
    "go1.x",
    "ruby2.5",
    "ruby2.7",
    "ruby3.2",
    "ruby3.3",
    "ruby3.4",
    "ruby4.0",
    "provided",
    "provided.al2",
    "provided.al2023",
    "nodejs26.x",
    "python3.15",
    "java8.al2023",
    "java11.al2023",
    "java17.al2023",
    "custom",
];

/// How Sluice runs a runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeKind {
    /// `python3.x`: `<python>` running `awslambdaric <handler>` (without its thread polling).
    Python,
    /// `provided`, `provided.al2`, `provided.al2023`: the package's `bootstrap`.
    Provided,
    /// `nodejs18.x`, `nodejs20.x`, `nodejs22.x`, ...: `<node> bootstrap.js`, Sluice's own
    /// runtime interface client (`runtimes/node/bootstrap.js`).
    Node,
}

impl RuntimeKind {
    /// The way to run `runtime`, if Sluice can.
    pub fn of(runtime: &str) -> Option<Self> {
        if runtime.starts_with("python3.") {
            Some(Self::Python)
        } else if runtime == "provided" || runtime.starts_with("provided.") {
            Some(Self::Provided)
        } else if runtime.starts_with("nodejs") && runtime.ends_with(".x") {
            Some(Self::Node)
        } else {
            None
        }
    }
}

/// Environment variables a function may not set (Lambda reserves them).
pub const RESERVED_VARIABLES: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

/// A function as the registry keeps it: `$LATEST` (`<data-dir>/functions/<name>/function.json`)
/// or one of its published versions (`versions/<n>.json` beside it), an immutable snapshot of
/// `$LATEST`'s code and configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Function {
    pub name: String,
    pub runtime: String,
    /// `module.function` for Python; free-form (passed as `_HANDLER`) for `provided`.
    pub handler: Option<String>,
    pub role: String,
    pub description: String,
    /// Seconds.
    pub timeout: u32,
    /// MB.
    pub memory_size: u32,
    pub environment: BTreeMap<String, String>,
    /// Base64 SHA-256 of the zip, as AWS's `CodeSha256`.
    pub code_sha256: String,
    /// Bytes of the zip.
    pub code_size: u64,
    /// `2024-05-01T12:34:56.789+0000`.
    pub last_modified: String,
    /// Changes with every update (a UUID).
    pub revision_id: String,
    /// PutFunctionConcurrency's limit, if any.
    pub reserved_concurrency: Option<u32>,
    /// The folder of the unpacked code, relative to the function's folder. Published versions
    /// share the folder of the `$LATEST` they were published from (code folders are never
    /// changed, only replaced).
    pub code_dir: String,
    /// [`LATEST`](crate::LATEST), or the number of a published version.
    #[serde(default = "latest")]
    pub version: String,
    /// On `$LATEST`: the number of the last version published (0: none yet). Numbers are never
    /// reused, also after a version is deleted.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub last_version: u64,
    /// On a published version: the [`Function::fingerprint`] of the `$LATEST` it was published
    /// from (a publish without a change since returns that version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_from: Option<String>,
}

fn latest() -> String {
    crate::LATEST.to_owned()
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Function {
    /// Whether this is `$LATEST` (not a published version).
    pub fn is_latest(&self) -> bool {
        self.version == crate::LATEST
    }

    /// What a published version snapshots: the code and the configuration (not the revision,
    /// the time or the function-level settings), hashed.
    pub fn fingerprint(&self) -> String {
        use base64::Engine as _;
        use sha2::Digest as _;
        let snapshot = serde_json::json!([
            self.code_sha256,
            self.runtime,
            self.handler,
            self.role,
            self.description,
            self.timeout,
            self.memory_size,
            self.environment,
        ]);
        base64::engine::general_purpose::STANDARD
            .encode(sha2::Sha256::digest(snapshot.to_string().as_bytes()))
    }

    /// How Sluice runs it, or `InvalidRuntimeException`.
    pub fn runtime_kind(&self) -> Result<RuntimeKind, Error> {
        RuntimeKind::of(&self.runtime).ok_or_else(|| Error::UnsupportedRuntime {
            runtime: self.runtime.clone(),
        })
    }
}

/// What CreateFunction and UpdateFunctionConfiguration set; `None` keeps the current value
/// (or takes AWS's default on create).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    pub runtime: Option<String>,
    pub handler: Option<String>,
    pub role: Option<String>,
    pub description: Option<String>,
    pub timeout: Option<i64>,
    pub memory_size: Option<i64>,
    pub environment: Option<BTreeMap<String, String>>,
}

impl Settings {
    /// Applies the settings to `function`, checking AWS's rules.
    pub(crate) fn apply(&self, function: &mut Function) -> Result<(), Error> {
        if let Some(runtime) = &self.runtime {
            check_runtime(runtime)?;
            function.runtime.clone_from(runtime);
        }
        if let Some(handler) = &self.handler {
            if handler.is_empty() || handler.len() > 128 || handler.chars().any(char::is_whitespace)
            {
                return Err(Error::invalid(format!(
                    "Value '{handler}' at 'handler' failed to satisfy constraint: Member must \
                     satisfy regular expression pattern: [^\\s]+"
                )));
            }
            function.handler = Some(handler.clone());
        }
        if let Some(role) = &self.role {
            function.role.clone_from(role);
        }
        if let Some(description) = &self.description {
            if description.chars().count() > 256 {
                return Err(Error::invalid(
                    "Value at 'description' failed to satisfy constraint: Member must have \
                     length less than or equal to 256",
                ));
            }
            function.description.clone_from(description);
        }
        if let Some(timeout) = self.timeout {
            if !(1..=i64::from(limits::MAX_TIMEOUT)).contains(&timeout) {
                return Err(Error::invalid(format!(
                    "1 validation error detected: Value '{timeout}' at 'timeout' failed to \
                     satisfy constraint: Member must have value {}",
                    if timeout < 1 {
                        "greater than or equal to 1".to_string()
                    } else {
                        format!("less than or equal to {}", limits::MAX_TIMEOUT)
                    }
                )));
            }
            function.timeout = timeout as u32;
        }
        if let Some(memory) = self.memory_size {
            let range = i64::from(limits::MIN_MEMORY)..=i64::from(limits::MAX_MEMORY);
            if !range.contains(&memory) {
                return Err(Error::invalid(format!(
                    "'MemorySize' value failed to satisfy constraint: Member must have value \
                     greater than or equal to {} and less than or equal to {}",
                    limits::MIN_MEMORY,
                    limits::MAX_MEMORY
                )));
            }
            function.memory_size = memory as u32;
        }
        if let Some(environment) = &self.environment {
            check_environment(environment)?;
            function.environment.clone_from(environment);
        }
        if matches!(
            RuntimeKind::of(&function.runtime),
            Some(RuntimeKind::Python | RuntimeKind::Node)
        ) && function.handler.is_none()
        {
            return Err(Error::invalid(
                "Handler is required for functions with a Zip package type and a managed runtime",
            ));
        }
        Ok(())
    }
}

/// `InvalidParameterValueException` unless `runtime` is one of the model's values.
pub fn check_runtime(runtime: &str) -> Result<(), Error> {
    if RUNTIMES.contains(&runtime) {
        return Ok(());
    }
    Err(Error::invalid(format!(
        "Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy enum \
         value set: [{}] or be a valid ARN",
        RUNTIMES.join(", ")
    )))
}

fn check_environment(environment: &BTreeMap<String, String>) -> Result<(), Error> {
    let reserved: Vec<&str> = environment
        .keys()
        .filter(|k| RESERVED_VARIABLES.contains(&k.as_str()))
        .map(String::as_str)
        .collect();
    if !reserved.is_empty() {
        return Err(Error::invalid(format!(
            "Lambda was unable to configure your environment variables because the environment \
             variables you have provided contains reserved keys that are currently not \
             supported for modification. Reserved keys used in this request: {}",
            reserved.join(", ")
        )));
    }
    if let Some(bad) = environment.keys().find(|k| !valid_variable_name(k)) {
        return Err(Error::invalid(format!(
            "Lambda was unable to configure your environment variables because the environment \
             variables you have provided contains an invalid key: {bad}"
        )));
    }
    let measured = serde_json::to_string(environment).unwrap_or_default();
    if measured.len() > limits::MAX_ENVIRONMENT_BYTES {
        return Err(Error::invalid(format!(
            "Lambda was unable to configure your environment variables because the environment \
             variables you have provided exceeded the 4KB limit. String measured: {measured}"
        )));
    }
    Ok(())
}

fn valid_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// An alias of a function: a name for one of its versions, optionally routing a share of the
/// invocations to a second version (`<data-dir>/functions/<name>/aliases.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Alias {
    pub name: String,
    /// The version it names (`$LATEST` or a number).
    pub function_version: String,
    pub description: String,
    /// `RoutingConfig.AdditionalVersionWeights`: at most one other version and the share of
    /// invocations (0 to 1) it gets.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub routing: BTreeMap<String, f64>,
    /// Changes with every update (a UUID).
    pub revision_id: String,
}

impl Alias {
    /// The version an invocation runs, given a uniform random number in `[0, 1)`: the
    /// additional version with its weight's probability, else the alias's version.
    pub fn route(&self, draw: f64) -> &str {
        let mut threshold = 0.0;
        for (version, weight) in &self.routing {
            threshold += weight;
            if draw < threshold {
                return version;
            }
        }
        &self.function_version
    }

    /// Whether the alias sends invocations to `version`.
    pub fn uses(&self, version: &str) -> bool {
        self.function_version == version || self.routing.contains_key(version)
    }
}

/// What a qualifier (`Qualifier`, or the part after the name in `FunctionName`) names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qualifier<'a> {
    /// `$LATEST`.
    Latest,
    /// A published version (`1`, `2`, ...).
    Version(u64),
    /// An alias (a name that is not only digits).
    Alias(&'a str),
    /// Something that can name nothing (`007`, `$PREVIOUS`, a number too large): AWS answers
    /// `Function not found` for it.
    Nothing,
}

impl<'a> Qualifier<'a> {
    pub fn parse(qualifier: &'a str) -> Self {
        if qualifier == crate::LATEST {
            Self::Latest
        } else if !qualifier.is_empty() && qualifier.bytes().all(|b| b.is_ascii_digit()) {
            match qualifier.parse::<u64>() {
                Ok(n) if n > 0 && n.to_string() == qualifier => Self::Version(n),
                _ => Self::Nothing,
            }
        } else if valid_alias_name(qualifier) {
            Self::Alias(qualifier)
        } else {
            Self::Nothing
        }
    }
}

/// Whether `name` is an alias name AWS accepts: 1 to 128 letters, digits, `-`, `_`, not only
/// digits (the model's `(?!^[0-9]+$)([a-zA-Z0-9-_]+)`).
pub fn valid_alias_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !name.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `name` is a function name AWS accepts on create: 1 to 64 letters, digits, `-`, `_`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= limits::MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `region` can name a region Sluice keeps functions in (a folder of the data dir):
/// 1 to 64 lowercase letters, digits and `-` (`us-east-1`, `cn-northwest-1`).
pub fn valid_region(region: &str) -> bool {
    !region.is_empty()
        && region.len() <= 64
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// What a `FunctionName` parameter names: a name (`my-function`), a name with a qualifier
/// (`my-function:v1`), a partial ARN (`123456789012:function:f`) or a full ARN
/// (`arn:aws:lambda:us-west-2:123456789012:function:f[:qualifier]`), which also names the
/// function's region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionName {
    /// The region of a full ARN; `None`: the region of whoever names the function.
    pub region: Option<String>,
    pub name: String,
    pub qualifier: Option<String>,
}

impl FunctionName {
    /// What `input` names, `None` when it is none of the forms.
    pub fn parse(input: &str) -> Option<Self> {
        let (region, QualifiedName { name, qualifier }) = match Arn::parse(input) {
            Ok(arn) if arn.service == "lambda" => (Some(arn.region), arn.function()?),
            Ok(_) => return None,
            Err(_) => match input.split_once(':') {
                None => (
                    None,
                    QualifiedName {
                        name: input,
                        qualifier: None,
                    },
                ),
                Some((name, qualifier)) if !qualifier.contains(':') => (
                    None,
                    QualifiedName {
                        name,
                        qualifier: Some(qualifier),
                    },
                ),
                // A partial ARN: `<account>:function:<name>[:<qualifier>]`.
                Some((_account, resource)) => (None, QualifiedName::parse(resource, "function")?),
            },
        };
        if !valid_name(name) || region.is_some_and(|r| !valid_region(r)) {
            return None;
        }
        match qualifier {
            Some(q)
                if q.is_empty()
                    || q.len() > 128
                    || !q.bytes().all(|b| {
                        b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'$'
                    }) =>
            {
                None
            }
            _ => Some(Self {
                region: region.map(str::to_owned),
                name: name.to_owned(),
                qualifier: qualifier.map(str::to_owned),
            }),
        }
    }
}

/// The function name and qualifier a `FunctionName` parameter names ([`FunctionName::parse`],
/// without the region).
pub fn parse_function_name(input: &str) -> Option<(String, Option<String>)> {
    FunctionName::parse(input).map(|f| (f.name, f.qualifier))
}

/// A timestamp as Lambda's `LastModified`: `2024-05-01T12:34:56.789+0000`.
pub fn last_modified(now: chrono::DateTime<chrono::Utc>) -> String {
    now.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_in_every_form() {
        assert_eq!(parse_function_name("f"), Some(("f".into(), None)));
        assert_eq!(
            parse_function_name("f:$LATEST"),
            Some(("f".into(), Some("$LATEST".into())))
        );
        assert_eq!(
            parse_function_name("000000000000:function:my_fn"),
            Some(("my_fn".into(), None))
        );
        assert_eq!(
            parse_function_name("arn:aws:lambda:us-east-1:000000000000:function:f:live"),
            Some(("f".into(), Some("live".into())))
        );
        for bad in [
            "",
            "a/b",
            "../x",
            "arn:aws:s3:::bucket",
            "f:",
            &"x".repeat(65),
        ] {
            assert_eq!(parse_function_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn full_arns_name_their_region() {
        let named =
            FunctionName::parse("arn:aws-cn:lambda:cn-northwest-1:000000000000:function:f:7")
                .unwrap();
        assert_eq!(named.region.as_deref(), Some("cn-northwest-1"));
        assert_eq!(
            (named.name.as_str(), named.qualifier.as_deref()),
            ("f", Some("7"))
        );
        for local in ["f", "f:live", "000000000000:function:f"] {
            assert_eq!(FunctionName::parse(local).unwrap().region, None, "{local}");
        }
        // A region is a folder of the data dir: nothing else passes for one.
        for bad in ["..", "US-EAST-1", "", "a_b"] {
            let arn = format!("arn:aws:lambda:{bad}:000000000000:function:f");
            assert_eq!(FunctionName::parse(&arn), None, "{arn}");
        }
        assert!(valid_region("us-west-2") && !valid_region(&"a".repeat(65)));
    }

    #[test]
    fn qualified_names_in_every_form() {
        let cases = [
            ("f:3", "f", Some("3")),
            ("f:prod", "f", Some("prod")),
            ("000000000000:function:f:7", "f", Some("7")),
            ("000000000000:function:f:live", "f", Some("live")),
            (
                "arn:aws:lambda:us-east-1:000000000000:function:f:12",
                "f",
                Some("12"),
            ),
            (
                "arn:aws:lambda:eu-west-3:123456789012:function:my-fn:$LATEST",
                "my-fn",
                Some("$LATEST"),
            ),
            (
                "arn:aws-cn:lambda:cn-north-1:000000000000:function:f",
                "f",
                None,
            ),
        ];
        for (input, name, qualifier) in cases {
            assert_eq!(
                parse_function_name(input),
                Some((name.to_owned(), qualifier.map(str::to_owned))),
                "{input}"
            );
        }
        for bad in [
            "f:a:b",
            "f:has space",
            "f:a/b",
            &format!("f:{}", "q".repeat(129)),
            "arn:aws:lambda:us-east-1:000000000000:layer:f:1",
            "arn:aws:lambda:us-east-1:000000000000:function:f:",
        ] {
            assert_eq!(parse_function_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn qualifiers_name_latest_versions_or_aliases() {
        assert_eq!(Qualifier::parse("$LATEST"), Qualifier::Latest);
        assert_eq!(Qualifier::parse("1"), Qualifier::Version(1));
        assert_eq!(Qualifier::parse("42"), Qualifier::Version(42));
        assert_eq!(Qualifier::parse("prod"), Qualifier::Alias("prod"));
        assert_eq!(Qualifier::parse("v2"), Qualifier::Alias("v2"));
        assert_eq!(
            Qualifier::parse("2024-01-02"),
            Qualifier::Alias("2024-01-02")
        );
        assert_eq!(
            Qualifier::parse("blue_green"),
            Qualifier::Alias("blue_green")
        );
        // Digits that are no version number, and what no alias can be called.
        for nothing in [
            "0",
            "007",
            "99999999999999999999999",
            "$latest",
            "$LATEST.PUBLISHED",
            "$PREVIOUS",
            "",
        ] {
            assert_eq!(Qualifier::parse(nothing), Qualifier::Nothing, "{nothing}");
        }
        assert!(valid_alias_name("live") && valid_alias_name("1a") && valid_alias_name("-"));
        assert!(!valid_alias_name("123") && !valid_alias_name("") && !valid_alias_name("a.b"));
        assert!(!valid_alias_name(&"a".repeat(129)) && valid_alias_name(&"a".repeat(128)));
    }

    #[test]
    fn aliases_route_by_weight() {
        let mut alias = Alias {
            name: "live".into(),
            function_version: "1".into(),
            description: String::new(),
            routing: BTreeMap::new(),
            revision_id: "r".into(),
        };
        assert_eq!(alias.route(0.0), "1");
        assert_eq!(alias.route(0.99), "1");
        alias.routing.insert("2".into(), 0.25);
        assert_eq!(alias.route(0.0), "2");
        assert_eq!(alias.route(0.2499), "2");
        assert_eq!(alias.route(0.25), "1");
        assert_eq!(alias.route(0.9), "1");
        assert!(alias.uses("1") && alias.uses("2") && !alias.uses("3"));
        alias.routing.insert("2".into(), 1.0);
        assert_eq!(alias.route(0.999), "2");
    }

    #[test]
    fn settings_follow_aws_rules() {
        let mut f = Function {
            name: "f".into(),
            runtime: "python3.12".into(),
            handler: Some("h.handler".into()),
            role: "r".into(),
            description: String::new(),
            timeout: 3,
            memory_size: 128,
            environment: BTreeMap::new(),
            code_sha256: String::new(),
            code_size: 0,
            last_modified: String::new(),
            revision_id: String::new(),
            reserved_concurrency: None,
            code_dir: "code".into(),
            version: "$LATEST".into(),
            last_version: 0,
            published_from: None,
        };
        let timeout = |t| Settings {
            timeout: Some(t),
            ..Settings::default()
        };
        assert!(timeout(0).apply(&mut f).is_err());
        assert!(timeout(901).apply(&mut f).is_err());
        timeout(900).apply(&mut f).unwrap();
        assert_eq!(f.timeout, 900);
        let runtime = Settings {
            runtime: Some("PYTHON3.9".into()),
            ..Settings::default()
        };
        let e = runtime.apply(&mut f).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("Value PYTHON3.9 at 'runtime' failed to satisfy constraint"),
            "{e}"
        );
        let env = Settings {
            environment: Some(BTreeMap::from([("AWS_REGION".into(), "x".into())])),
            ..Settings::default()
        };
        assert!(
            env.apply(&mut f)
                .unwrap_err()
                .to_string()
                .contains("AWS_REGION")
        );
        let env = Settings {
            environment: Some(BTreeMap::from([("BIG".into(), "x".repeat(5000))])),
            ..Settings::default()
        };
        assert!(env.apply(&mut f).unwrap_err().to_string().contains("4KB"));
    }

    #[test]
    fn runtimes_sluice_runs() {
        assert_eq!(RuntimeKind::of("python3.12"), Some(RuntimeKind::Python));
        assert_eq!(
            RuntimeKind::of("provided.al2023"),
            Some(RuntimeKind::Provided)
        );
        assert_eq!(RuntimeKind::of("nodejs22.x"), Some(RuntimeKind::Node));
        assert_eq!(RuntimeKind::of("nodejs"), None);
        assert_eq!(RuntimeKind::of("java21"), None);
    }
}
