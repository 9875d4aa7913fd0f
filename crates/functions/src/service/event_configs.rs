//! Event invoke configs through [`Functions`]: Put, Update, Get, Delete and List, per function
//! and qualifier, with AWS's messages (`crate::event_config` has the rules). A config belongs
//! to `$LATEST`, a version or an alias; it goes when that version, alias or the function is
//! deleted.

use super::{Functions, LATEST};
use crate::Error;
use crate::LambdaArns as _;
use crate::event_config::{EventInvokeConfig, EventInvokeConfigChange};
use crate::function::Qualifier;

impl Functions {
    /// PutFunctionEventInvokeConfig: replaces the config of `name`'s `qualifier` (`$LATEST`
    /// when `None`) with what `change` sets. Returns the qualifier and the config.
    pub fn put_event_invoke_config(
        &self,
        name: &str,
        qualifier: Option<&str>,
        change: &EventInvokeConfigChange,
    ) -> Result<(String, EventInvokeConfig), Error> {
        self.change_event_invoke_config(name, qualifier, change, false)
    }

    /// UpdateFunctionEventInvokeConfig: changes what `change` gives of the existing config.
    pub fn update_event_invoke_config(
        &self,
        name: &str,
        qualifier: Option<&str>,
        change: &EventInvokeConfigChange,
    ) -> Result<(String, EventInvokeConfig), Error> {
        self.change_event_invoke_config(name, qualifier, change, true)
    }

    fn change_event_invoke_config(
        &self,
        name: &str,
        qualifier: Option<&str>,
        change: &EventInvokeConfigChange,
        update: bool,
    ) -> Result<(String, EventInvokeConfig), Error> {
        change.check()?;
        let qualifier = qualifier.unwrap_or(LATEST).to_owned();
        let doesnt_exist = || Error::Missing {
            message: "The function doesn't exist.".into(),
        };
        let exists = self
            .inner
            .registry
            .with(self.region(), name, |entry| entry.has_qualifier(&qualifier))
            .unwrap_or(false);
        if !exists {
            return Err(doesnt_exist());
        }
        let delivers = self.inner.destinations.get().is_some();
        change.check_destinations(
            &self.scope,
            name,
            |other| {
                let region = other.region.as_deref().unwrap_or_else(|| self.region());
                self.inner.registry.get(region, &other.name).is_some()
            },
            |_| delivers,
        )?;
        let now = chrono::Utc::now().timestamp_millis();
        self.inner.registry.update_event_configs(
            self.region(),
            name,
            doesnt_exist,
            |entry, configs| {
                if !entry.has_qualifier(&qualifier) {
                    return Err(doesnt_exist());
                }
                let existing = configs.get(&qualifier);
                if update && existing.is_none() {
                    return Err(self.no_event_invoke_config(name, &qualifier));
                }
                let config = change.apply(existing.filter(|_| update), now);
                configs.insert(qualifier.clone(), config.clone());
                Ok((qualifier.clone(), config))
            },
        )
    }

    /// GetFunctionEventInvokeConfig.
    pub fn event_invoke_config(
        &self,
        name: &str,
        qualifier: Option<&str>,
    ) -> Result<(String, EventInvokeConfig), Error> {
        let qualifier = qualifier.unwrap_or(LATEST);
        self.inner
            .registry
            .with(self.region(), name, |entry| {
                entry.event_configs.get(qualifier).cloned()
            })
            .flatten()
            .map(|config| (qualifier.to_owned(), config))
            .ok_or_else(|| self.no_event_invoke_config(name, qualifier))
    }

    /// DeleteFunctionEventInvokeConfig.
    pub fn delete_event_invoke_config(
        &self,
        name: &str,
        qualifier: Option<&str>,
    ) -> Result<(), Error> {
        let qualifier = qualifier.unwrap_or(LATEST);
        let missing = || self.no_event_invoke_config(name, qualifier);
        self.inner
            .registry
            .update_event_configs(self.region(), name, missing, |_, configs| {
                configs.remove(qualifier).map(|_| ()).ok_or_else(missing)
            })
    }

    /// ListFunctionEventInvokeConfigs: `$LATEST`'s, the versions' in order, then the aliases'.
    pub fn event_invoke_configs(
        &self,
        name: &str,
    ) -> Result<Vec<(String, EventInvokeConfig)>, Error> {
        let mut configs: Vec<(String, EventInvokeConfig)> = self
            .inner
            .registry
            .with(self.region(), name, |entry| {
                entry
                    .event_configs
                    .iter()
                    .map(|(q, c)| (q.clone(), c.clone()))
                    .collect()
            })
            .ok_or_else(|| Error::Missing {
                message: "The function doesn't exist.".into(),
            })?;
        configs.sort_by_key(|(qualifier, _)| match Qualifier::parse(qualifier) {
            Qualifier::Latest => (0, 0, String::new()),
            Qualifier::Version(n) => (1, n, String::new()),
            Qualifier::Alias(_) | Qualifier::Nothing => (2, 0, qualifier.clone()),
        });
        Ok(configs)
    }

    /// The config an event of `name` invoked with `qualifier` follows, if any.
    pub(crate) fn event_config(
        &self,
        name: &str,
        qualifier: Option<&str>,
    ) -> Option<EventInvokeConfig> {
        let qualifier = qualifier.unwrap_or(LATEST);
        self.inner
            .registry
            .with(self.region(), name, |entry| {
                entry.event_configs.get(qualifier).cloned()
            })
            .flatten()
    }

    /// `The function <ARN>:<qualifier> doesn't have an EventInvokeConfig`.
    fn no_event_invoke_config(&self, name: &str, qualifier: &str) -> Error {
        Error::Missing {
            message: format!(
                "The function {} doesn't have an EventInvokeConfig",
                self.scope.qualified_arn(name, qualifier)
            ),
        }
    }
}
