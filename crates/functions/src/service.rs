//! [`Functions`]: the registry and the worker pools behind one cheap-to-clone handle — what
//! the Lambda API and the engine's Task dispatch call.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;

use crate::function::{Function, Scope, Settings, limits};
use crate::pool::{Pool, PoolStats, Reply, Spec};
use crate::registry::Registry;
use crate::{Error, Options};

/// The only version Sluice runs (no PublishVersion yet).
pub const LATEST: &str = "$LATEST";

/// How to invoke.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvokeOptions {
    /// A version or alias; only `$LATEST` exists today.
    pub qualifier: Option<String>,
    /// `X-Amz-Client-Context` (base64 JSON), passed to the runtime as
    /// `Lambda-Runtime-Client-Context`.
    pub client_context: Option<String>,
}

/// A completed invocation: the function's result, or the error document it failed with.
#[derive(Debug, Clone, PartialEq)]
pub struct Invoked {
    pub request_id: String,
    /// The result, or the error document when `function_error` is set.
    pub payload: Bytes,
    /// The error's type (`errorType`) when the function failed; Lambda answers
    /// `X-Amz-Function-Error: Unhandled` then.
    pub function_error: Option<String>,
    /// `X-Amz-Executed-Version`.
    pub executed_version: &'static str,
}

/// The functions of a data dir and their workers. Clones share everything.
#[derive(Clone)]
pub struct Functions {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    options: Arc<Options>,
    scope: Scope,
    pools: Mutex<HashMap<String, Arc<Pool>>>,
}

impl Functions {
    /// Opens the functions of `<data_dir>/functions` (created if missing). No worker starts
    /// before an invocation.
    pub fn open(data_dir: &Path, options: Options, scope: Scope) -> Result<Self, Error> {
        let registry = Registry::open(data_dir)?;
        Ok(Self {
            inner: Arc::new(Inner {
                registry,
                options: Arc::new(options),
                scope,
                pools: Mutex::default(),
            }),
        })
    }

    pub fn scope(&self) -> &Scope {
        &self.inner.scope
    }

    pub fn options(&self) -> &Options {
        &self.inner.options
    }

    /// `arn:aws:lambda:<region>:<account>:function:<name>`.
    pub fn arn(&self, name: &str) -> String {
        self.inner.scope.function_arn(name)
    }

    /// `ResourceNotFoundException` for `name` (with `:qualifier` when given).
    pub fn not_found(&self, name: &str, qualifier: Option<&str>) -> Error {
        let arn = match qualifier {
            Some(q) => format!("{}:{q}", self.arn(name)),
            None => self.arn(name),
        };
        Error::NotFound { arn }
    }

    /// The function `name`.
    pub fn get(&self, name: &str) -> Result<Function, Error> {
        self.inner
            .registry
            .get(name)
            .ok_or_else(|| self.not_found(name, None))
    }

    /// Every function, by name.
    pub fn list(&self) -> Vec<Function> {
        self.inner.registry.list()
    }

    /// Where `function`'s code is unpacked.
    pub fn code_path(&self, function: &Function) -> std::path::PathBuf {
        self.inner.registry.code_path(function)
    }

    /// CreateFunction: `zip` is the deployment package.
    pub fn create(&self, name: &str, settings: &Settings, zip: &[u8]) -> Result<Function, Error> {
        self.inner
            .registry
            .create(name, settings, zip, chrono::Utc::now())
    }

    /// UpdateFunctionCode. Workers of the old code finish their invocation and stop.
    pub fn update_code(&self, name: &str, zip: &[u8]) -> Result<Function, Error> {
        let function = self
            .inner
            .registry
            .update_code(name, zip, chrono::Utc::now(), || self.not_found(name, None))?;
        self.reconfigure(&function);
        Ok(function)
    }

    /// UpdateFunctionConfiguration.
    pub fn update_configuration(&self, name: &str, settings: &Settings) -> Result<Function, Error> {
        let function = self.inner.registry.update(
            name,
            chrono::Utc::now(),
            || self.not_found(name, None),
            |f| settings.apply(f),
        )?;
        self.reconfigure(&function);
        Ok(function)
    }

    /// PutFunctionConcurrency (`Some`) and DeleteFunctionConcurrency (`None`).
    pub fn set_reserved_concurrency(
        &self,
        name: &str,
        reserved: Option<u32>,
    ) -> Result<Function, Error> {
        let function = self.inner.registry.update(
            name,
            chrono::Utc::now(),
            || self.not_found(name, None),
            |f| {
                f.reserved_concurrency = reserved;
                Ok(())
            },
        )?;
        self.reconfigure(&function);
        Ok(function)
    }

    /// DeleteFunction: its workers are stopped and its waiting invocations fail.
    pub fn delete(&self, name: &str) -> Result<(), Error> {
        self.inner
            .registry
            .delete(name, || self.not_found(name, None))?;
        let pool = self.pools().remove(name);
        if let Some(pool) = pool {
            tokio::spawn(async move { pool.shutdown(Duration::from_secs(5)).await });
        }
        Ok(())
    }

    /// Invokes `name` synchronously (RequestResponse) and waits for the result.
    pub async fn invoke(
        &self,
        name: &str,
        payload: Bytes,
        options: InvokeOptions,
    ) -> Result<Invoked, Error> {
        let pool = self.pool_for(name, options.qualifier.as_deref())?;
        if payload.len() > limits::MAX_SYNC_PAYLOAD {
            return Err(Error::PayloadTooLarge {
                limit: limits::MAX_SYNC_PAYLOAD,
            });
        }
        let request_id: Arc<str> = Arc::from(crate::ids::uuid_v4());
        let reply = pool
            .invoke(Arc::clone(&request_id), payload, options.client_context)
            .await?;
        let (payload, function_error) = match reply {
            Reply::Response(payload) => (payload, None),
            Reply::Error {
                error_type,
                payload,
            } => (payload, Some(error_type)),
        };
        Ok(Invoked {
            request_id: request_id.to_string(),
            payload,
            function_error,
            executed_version: LATEST,
        })
    }

    /// Invokes `name` asynchronously (Event): checks it exists and the payload's size, then
    /// runs it in the background; the result is only logged. Returns the request id. The
    /// queue is in memory: accepted events are lost if the server stops before they run.
    pub fn invoke_event(
        &self,
        name: &str,
        payload: Bytes,
        options: InvokeOptions,
    ) -> Result<String, Error> {
        self.pool_for(name, options.qualifier.as_deref())?;
        if payload.len() > limits::MAX_ASYNC_PAYLOAD {
            return Err(Error::PayloadTooLarge {
                limit: limits::MAX_ASYNC_PAYLOAD,
            });
        }
        let this = self.clone();
        let name = name.to_owned();
        let request_id = crate::ids::uuid_v4();
        tokio::spawn(async move {
            match this.invoke(&name, payload, options).await {
                Ok(invoked) if invoked.function_error.is_some() => tracing::info!(
                    function = %name,
                    request_id = %invoked.request_id,
                    error_type = invoked.function_error.as_deref(),
                    "event invocation failed"
                ),
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(function = %name, %error, "event invocation not run")
                }
            }
        });
        Ok(request_id)
    }

    /// Checks that `name` (and `qualifier`) can be invoked, without invoking (DryRun).
    pub fn check_invocable(&self, name: &str, qualifier: Option<&str>) -> Result<(), Error> {
        self.pool_for(name, qualifier).map(|_| ())
    }

    /// The kept log lines of invocation `request_id` of `name` (START, output, END, REPORT).
    pub fn logs(&self, name: &str, request_id: &str) -> String {
        match self.pools().get(name) {
            Some(pool) => pool.logs_of(request_id),
            None => String::new(),
        }
    }

    /// How many workers `name` has now.
    pub fn stats(&self, name: &str) -> PoolStats {
        self.pools()
            .get(name)
            .map(|pool| pool.stats())
            .unwrap_or_default()
    }

    /// Stops every worker (waiting at most `grace` for them to die).
    pub async fn shutdown(&self, grace: Duration) {
        let pools: Vec<Arc<Pool>> = self.pools().drain().map(|(_, pool)| pool).collect();
        for pool in pools {
            pool.shutdown(grace).await;
        }
    }

    fn pools(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Pool>>> {
        self.inner.pools.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn spec(&self, function: &Function) -> Spec {
        Spec {
            code: self.code_path(function),
            arn: self.arn(&function.name),
            function: function.clone(),
        }
    }

    /// The pool of `name`, created on first use.
    fn pool_for(&self, name: &str, qualifier: Option<&str>) -> Result<Arc<Pool>, Error> {
        let not_found = || self.not_found(name, Some(qualifier.unwrap_or(LATEST)));
        if qualifier.is_some_and(|q| q != LATEST) {
            return Err(not_found());
        }
        let function = self.inner.registry.get(name).ok_or_else(not_found)?;
        function.runtime_kind()?;
        let mut pools = self.pools();
        if let Some(pool) = pools.get(name) {
            return Ok(Arc::clone(pool));
        }
        let pool = Pool::new(
            Arc::clone(&self.inner.options),
            self.inner.scope.clone(),
            self.spec(&function),
        );
        pools.insert(name.to_owned(), Arc::clone(&pool));
        Ok(pool)
    }

    fn reconfigure(&self, function: &Function) {
        let pool = self.pools().get(&function.name).cloned();
        if let Some(pool) = pool {
            pool.reconfigure(self.spec(function));
        }
    }
}
