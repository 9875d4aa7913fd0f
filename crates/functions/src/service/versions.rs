//! Versions and aliases, as AWS Lambda has them (messages recorded against AWS in LocalStack's
//! snapshot tests):
//!
//! - PublishVersion snapshots `$LATEST` (code and configuration) as version `1`, `2`, ...;
//!   publishing again without a change since returns the last version. Each version runs its
//!   own code, in its own pool of workers.
//! - An alias names a version and may route a share of the invocations to one other version
//!   (`RoutingConfig.AdditionalVersionWeights`); [`Functions::invoke`] draws per invocation and
//!   reports the version that ran (`X-Amz-Executed-Version`).
//! - A version an alias uses cannot be deleted; deleting a version or an alias that does not
//!   exist does nothing, as on AWS.

use crate::LambdaArns as _;
use std::collections::BTreeMap;

use super::{Functions, LATEST};
use crate::Error;
use crate::function::{Alias, Function, Qualifier, valid_alias_name};
use crate::registry::{Entry, new_revision};

/// What UpdateAlias changes (`None`: kept).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AliasUpdate {
    pub function_version: Option<String>,
    pub description: Option<String>,
    /// `RoutingConfig.AdditionalVersionWeights`; an empty map removes the routing.
    pub routing: Option<BTreeMap<String, f64>>,
    /// Only update if this is the alias's current revision.
    pub revision_id: Option<String>,
}

impl Functions {
    /// `arn:aws:lambda:<region>:<account>:function:<name>:<alias>`.
    pub fn alias_arn(&self, name: &str, alias: &str) -> String {
        self.scope.qualified_arn(name, alias)
    }

    /// The version `qualifier` names (`None`: `$LATEST`; an alias: the version it names, not
    /// routed), as GetFunction and GetFunctionConfiguration show it.
    pub fn resolve(&self, name: &str, qualifier: Option<&str>) -> Result<Function, Error> {
        let not_found = || self.not_found(name, qualifier);
        self.inner
            .registry
            .with(self.region(), name, |entry| {
                let version = match qualifier.map(Qualifier::parse) {
                    None | Some(Qualifier::Latest) => Some(&entry.latest),
                    Some(Qualifier::Version(n)) => entry.versions.get(&n),
                    Some(Qualifier::Alias(alias)) => entry
                        .aliases
                        .get(alias)
                        .and_then(|a| entry.version(&a.function_version)),
                    Some(Qualifier::Nothing) => None,
                };
                version.cloned().ok_or_else(not_found)
            })
            .unwrap_or_else(|| Err(not_found()))
    }

    /// PublishVersion: `$LATEST` as a new version (or the last version, when `$LATEST` has not
    /// changed since). `code_sha256` and `revision_id`, when given, must be `$LATEST`'s.
    pub fn publish_version(
        &self,
        name: &str,
        description: Option<&str>,
        code_sha256: Option<&str>,
        revision_id: Option<&str>,
    ) -> Result<Function, Error> {
        self.inner.registry.publish(
            self.region(),
            name,
            description,
            || self.not_found(name, None),
            |latest| {
                if revision_id.is_some_and(|r| r != latest.revision_id) {
                    return Err(Error::PreconditionFailed);
                }
                match code_sha256 {
                    Some(sha) if sha != latest.code_sha256 => Err(Error::invalid(format!(
                        "CodeSHA256 ({sha}) is different from current CodeSHA256 in $LATEST \
                         ({}). Please try again with the CodeSHA256 in $LATEST.",
                        latest.code_sha256
                    ))),
                    _ => Ok(()),
                }
            },
        )
    }

    /// ListVersionsByFunction: `$LATEST`, then the published versions in order.
    pub fn versions(&self, name: &str) -> Result<Vec<Function>, Error> {
        self.inner
            .registry
            .with(self.region(), name, |entry| {
                std::iter::once(&entry.latest)
                    .chain(entry.versions.values())
                    .cloned()
                    .collect()
            })
            .ok_or_else(|| self.not_found(name, None))
    }

    /// DeleteFunction with a qualifier: deletes that published version (nothing when it does
    /// not exist) and stops its workers. Refused for `$LATEST`, aliases, and versions an alias
    /// uses.
    pub fn delete_version(&self, name: &str, qualifier: &str) -> Result<(), Error> {
        let number = match Qualifier::parse(qualifier) {
            Qualifier::Latest => {
                return Err(Error::invalid(
                    "$LATEST version cannot be deleted without deleting the function.",
                ));
            }
            Qualifier::Alias(_) => {
                return Err(Error::invalid(
                    "Deletion of aliases is not currently supported.",
                ));
            }
            Qualifier::Version(n) => Some(n),
            Qualifier::Nothing => None,
        };
        let Some(number) = number else {
            // No such version can exist; AWS answers as for a deleted one.
            return self.get(name).map(|_| ());
        };
        let removed = self
            .inner
            .registry
            .delete_version(self.region(), name, number, || self.not_found(name, None))?;
        if let Some(version) = removed {
            self.drop_pool(name, &version.version);
        }
        Ok(())
    }

    /// CreateAlias.
    pub fn create_alias(
        &self,
        name: &str,
        alias: &str,
        function_version: &str,
        description: Option<&str>,
        routing: Option<&BTreeMap<String, f64>>,
    ) -> Result<Alias, Error> {
        check_alias_name(alias)?;
        self.inner.registry.put_alias(
            self.region(),
            name,
            alias,
            || self.not_found(name, Some(function_version)),
            |entry, existing| {
                self.check_version(name, entry, function_version)?;
                if existing.is_some() {
                    return Err(Error::Conflict {
                        message: format!("Alias already exists: {}", self.alias_arn(name, alias)),
                    });
                }
                let routing = routing.cloned().unwrap_or_default();
                self.check_routing(name, entry, function_version, &routing)?;
                Ok(Alias {
                    name: alias.to_owned(),
                    function_version: function_version.to_owned(),
                    description: description.unwrap_or_default().to_owned(),
                    routing,
                    revision_id: new_revision(),
                })
            },
        )
    }

    /// GetAlias.
    pub fn get_alias(&self, name: &str, alias: &str) -> Result<Alias, Error> {
        check_alias_name(alias)?;
        self.inner
            .registry
            .with(self.region(), name, |entry| {
                entry.aliases.get(alias).cloned()
            })
            .ok_or_else(|| self.not_found(name, None))?
            .ok_or_else(|| Error::Missing {
                message: format!("Cannot find alias arn: {}", self.alias_arn(name, alias)),
            })
    }

    /// UpdateAlias: a new revision, also when nothing changes (as on AWS).
    pub fn update_alias(
        &self,
        name: &str,
        alias: &str,
        update: &AliasUpdate,
    ) -> Result<Alias, Error> {
        check_alias_name(alias)?;
        self.inner.registry.put_alias(
            self.region(),
            name,
            alias,
            || self.not_found(name, None),
            |entry, existing| {
                let Some(existing) = existing else {
                    return Err(Error::Missing {
                        message: format!("Alias not found: {}", self.alias_arn(name, alias)),
                    });
                };
                if update
                    .revision_id
                    .as_ref()
                    .is_some_and(|r| *r != existing.revision_id)
                {
                    return Err(Error::PreconditionFailed);
                }
                let mut new = existing.clone();
                if let Some(version) = &update.function_version {
                    self.check_version(name, entry, version)?;
                    new.function_version.clone_from(version);
                }
                if let Some(description) = &update.description {
                    new.description.clone_from(description);
                }
                if let Some(routing) = &update.routing {
                    new.routing.clone_from(routing);
                }
                self.check_routing(name, entry, &new.function_version, &new.routing)?;
                new.revision_id = new_revision();
                Ok(new)
            },
        )
    }

    /// DeleteAlias (nothing when there is no such alias).
    pub fn delete_alias(&self, name: &str, alias: &str) -> Result<(), Error> {
        check_alias_name(alias)?;
        self.inner
            .registry
            .delete_alias(self.region(), name, alias, || self.not_found(name, None))
            .map(|_| ())
    }

    /// ListAliases: every alias of `name` by name, or those naming `function_version`.
    pub fn aliases(&self, name: &str, function_version: Option<&str>) -> Result<Vec<Alias>, Error> {
        self.inner
            .registry
            .with(self.region(), name, |entry| {
                entry
                    .aliases
                    .values()
                    .filter(|a| function_version.is_none_or(|v| a.function_version == v))
                    .cloned()
                    .collect()
            })
            .ok_or_else(|| self.not_found(name, None))
    }

    /// `Function not found: <ARN>:<version>` unless `version` is `$LATEST` or a published
    /// version of `entry`.
    fn check_version(&self, name: &str, entry: &Entry, version: &str) -> Result<(), Error> {
        match entry.version(version) {
            Some(_) => Ok(()),
            None => Err(self.not_found(name, Some(version))),
        }
    }

    /// AWS's rules for an alias's `AdditionalVersionWeights`, in AWS's order.
    fn check_routing(
        &self,
        name: &str,
        entry: &Entry,
        function_version: &str,
        routing: &BTreeMap<String, f64>,
    ) -> Result<(), Error> {
        if routing.len() > 1 {
            return Err(Error::invalid(
                "Number of items in AdditionalVersionWeights cannot be greater than 1",
            ));
        }
        for (version, weight) in routing {
            let shown = format!("{{{version}={}}}", java_double(*weight));
            if !(0.0..=1.0).contains(weight) {
                return Err(Error::Validation {
                    message: format!(
                        "1 validation error detected: Value '{shown}' at \
                         'routingConfig.additionalVersionWeights' failed to satisfy \
                         constraint: Map value must satisfy constraint: [Member must have value \
                         less than or equal to 1.0, Member must have value greater than or \
                         equal to 0.0, Member must not be null]"
                    ),
                });
            }
            if version == function_version {
                return Err(Error::invalid(format!(
                    "Invalid function version {function_version}. Function version \
                     {function_version} is already included in routing configuration."
                )));
            }
            if function_version == LATEST {
                return Err(Error::invalid(
                    "$LATEST is not supported for an alias pointing to more than 1 version",
                ));
            }
            if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Error::Validation {
                    message: format!(
                        "1 validation error detected: Value '{shown}' at \
                         'routingConfig.additionalVersionWeights' failed to satisfy \
                         constraint: Map keys must satisfy constraint: [Member must have length \
                         less than or equal to 1024, Member must have length greater than or \
                         equal to 1, Member must satisfy regular expression pattern: [0-9]+]"
                    ),
                });
            }
            self.check_version(name, entry, version)?;
        }
        Ok(())
    }
}

/// The model's pattern for alias names, as a `ValidationException`.
fn check_alias_name(alias: &str) -> Result<(), Error> {
    if valid_alias_name(alias) {
        return Ok(());
    }
    Err(Error::Validation {
        message: format!(
            "1 validation error detected: Value '{alias}' at 'name' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: \
             (?!^[0-9]+$)([a-zA-Z0-9-_]+)"
        ),
    })
}

/// A double as Java prints it (`2.0`, `0.25`), as AWS's messages show weights.
fn java_double(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e7 {
        format!("{value:.1}")
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_print_as_java_doubles_and_alias_names_follow_the_model() {
        assert_eq!(java_double(2.0), "2.0");
        assert_eq!(java_double(-1.0), "-1.0");
        assert_eq!(java_double(0.25), "0.25");
        assert!(check_alias_name("prod").is_ok());
        assert!(check_alias_name("2024-01-02").is_ok());
        let error = check_alias_name("2024").unwrap_err();
        assert_eq!(error.code(), "ValidationException");
        assert_eq!(
            error.to_string(),
            "1 validation error detected: Value '2024' at 'name' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)"
        );
        assert!(check_alias_name("a:b").is_err());
        assert!(check_alias_name("$LATEST").is_err());
    }
}
