//! State machine aliases: CreateStateMachineAlias, DescribeStateMachineAlias,
//! UpdateStateMachineAlias, DeleteStateMachineAlias, ListStateMachineAliases, and how an
//! execution started through an alias picks its version.
//!
//! An alias (`<machine arn>:<name>`) routes each new execution to one of one or two published
//! versions of its machine, by weight (the weights sum to 100). The machine is the one the
//! routed versions belong to: CreateStateMachineAlias has no machine parameter. Messages in
//! AWS's wording where it is recorded (LocalStack's snapshots of AWS): the routing errors,
//! the create conflict, and DeleteStateMachineVersion's refusal of a version an alias uses.
//!
//! A child module of `backend` (declared there): it shares the backend's lock over machine
//! records, which also serializes alias changes against version deletes.

use sluice_api::ApiError;
use sluice_api::sfn::model::{
    CreateStateMachineAliasInput, CreateStateMachineAliasOutput, DeleteStateMachineAliasInput,
    DeleteStateMachineAliasOutput, DescribeStateMachineAliasInput, DescribeStateMachineAliasOutput,
    ListStateMachineAliasesInput, ListStateMachineAliasesOutput, RoutingConfigurationListItem,
    StateMachineAliasListItem, UpdateStateMachineAliasInput, UpdateStateMachineAliasOutput,
};
use sluice_api::sfn::{Arn, Page, Resource};
use sluice_engine::Dispatch;
use sluice_store::{AliasRecord, MachineArn, StateMachineRecord, Store, Write};

use super::{Backend, secs, store_error};

/// AWS's quota of aliases per state machine.
const MAX_ALIASES: usize = 100;

/// A routing configuration as the store keeps it: `(version ARN, weight)`.
type Routing = Vec<(String, u32)>;

impl<S: Store, D: Dispatch> Backend<S, D> {
    pub(super) async fn create_alias(
        &self,
        input: CreateStateMachineAliasInput,
    ) -> Result<CreateStateMachineAliasOutput, ApiError> {
        let _guard = self.machines.lock().await;
        let (machine_arn, routing) = self.check_routing(&input.routing_configuration).await?;
        let arn = format!("{machine_arn}:{}", input.name);
        // Idempotent on name, description and routing; anything else on a taken name is a
        // conflict.
        if let Some(existing) = self.store().alias(&arn).await.map_err(store_error)? {
            if existing.description == input.description
                && same_routing(&existing.routing, &routing)
            {
                return Ok(CreateStateMachineAliasOutput {
                    state_machine_alias_arn: existing.arn,
                    creation_date: secs(existing.created_ms),
                });
            }
            return Err(ApiError::conflict(
                "Failed to create alias because an alias with the same name and a different \
                 routing configuration already exists.",
            ));
        }
        let count = self
            .store()
            .aliases(&machine_arn)
            .await
            .map_err(store_error)?
            .len();
        if count >= MAX_ALIASES {
            return Err(ApiError::service_quota_exceeded(format!(
                "The maximum number of aliases ({MAX_ALIASES}) for state machine \
                 '{machine_arn}' has been reached"
            )));
        }
        let now = self.now_ms();
        let alias = AliasRecord {
            arn: arn.clone(),
            machine_arn,
            name: input.name,
            description: input.description,
            routing,
            created_ms: now,
            updated_ms: now,
        };
        self.store()
            .commit(vec![Write::PutAlias(alias)])
            .await
            .map_err(store_error)?;
        Ok(CreateStateMachineAliasOutput {
            state_machine_alias_arn: arn,
            creation_date: secs(now),
        })
    }

    pub(super) async fn describe_alias(
        &self,
        input: DescribeStateMachineAliasInput,
    ) -> Result<DescribeStateMachineAliasOutput, ApiError> {
        let alias = self.alias(&input.state_machine_alias_arn).await?;
        Ok(DescribeStateMachineAliasOutput {
            state_machine_alias_arn: Some(alias.arn),
            name: Some(alias.name),
            description: alias.description,
            routing_configuration: Some(routing_items(&alias.routing)),
            creation_date: Some(secs(alias.created_ms)),
            update_date: Some(secs(alias.updated_ms)),
        })
    }

    pub(super) async fn update_alias(
        &self,
        input: UpdateStateMachineAliasInput,
    ) -> Result<UpdateStateMachineAliasOutput, ApiError> {
        if input.description.is_none() && input.routing_configuration.is_none() {
            return Err(ApiError::validation(
                "Either the description or the RoutingConfiguration must be specified",
            ));
        }
        let _guard = self.machines.lock().await;
        let mut alias = self.alias(&input.state_machine_alias_arn).await?;
        if let Some(items) = &input.routing_configuration {
            let (machine_arn, routing) = self.check_routing(items).await?;
            if machine_arn != alias.machine_arn {
                return Err(ApiError::validation(format!(
                    "Routing configuration must contain versions of the alias's state machine \
                     '{}'. Received: [{}]",
                    alias.machine_arn,
                    arns(items)
                )));
            }
            alias.routing = routing;
        }
        if let Some(description) = input.description {
            alias.description = Some(description);
        }
        let now = self.now_ms();
        alias.updated_ms = now;
        self.store()
            .commit(vec![Write::PutAlias(alias)])
            .await
            .map_err(store_error)?;
        Ok(UpdateStateMachineAliasOutput {
            update_date: secs(now),
        })
    }

    pub(super) async fn delete_alias(
        &self,
        input: DeleteStateMachineAliasInput,
    ) -> Result<DeleteStateMachineAliasOutput, ApiError> {
        alias_arn(&input.state_machine_alias_arn)?;
        let _guard = self.machines.lock().await;
        // As on AWS, deleting an alias that does not exist succeeds.
        self.store()
            .commit(vec![Write::DeleteAlias {
                arn: input.state_machine_alias_arn,
            }])
            .await
            .map_err(store_error)?;
        Ok(DeleteStateMachineAliasOutput {})
    }

    /// The aliases of a machine by name, or, given a version ARN, those routing to it.
    pub(super) async fn list_aliases(
        &self,
        input: ListStateMachineAliasesInput,
    ) -> Result<ListStateMachineAliasesOutput, ApiError> {
        let arn = Arn::parse_state_machine(&input.state_machine_arn)?;
        if matches!(arn.resource, Resource::StateMachineAlias { .. }) {
            return Err(ApiError::invalid_arn(format_args!(
                "Expected a state machine or version ARN: {}",
                input.state_machine_arn
            )));
        }
        let page = Page::from_request(input.next_token.as_deref(), input.max_results)?;
        let target = self.machine(&input.state_machine_arn).await?;
        let mut aliases = self
            .store()
            .aliases(target.machine_arn())
            .await
            .map_err(store_error)?;
        if target.version.is_some() {
            aliases.retain(|alias| alias.routing.iter().any(|(v, _)| *v == target.arn));
        }
        let (items, next_token) = page.take(aliases, |alias| alias.name.clone());
        Ok(ListStateMachineAliasesOutput {
            state_machine_aliases: items
                .into_iter()
                .map(|alias| StateMachineAliasListItem {
                    state_machine_alias_arn: alias.arn,
                    creation_date: secs(alias.created_ms),
                })
                .collect(),
            next_token,
        })
    }

    /// StartExecution/StartSyncExecution through an alias: the version picked by a random
    /// draw over the routing weights. An unknown alias is `StateMachineDoesNotExist`, as for
    /// any other state machine ARN those operations take.
    pub(super) async fn route(&self, alias_arn: &str) -> Result<StateMachineRecord, ApiError> {
        let alias = self
            .store()
            .alias(alias_arn)
            .await
            .map_err(store_error)?
            .ok_or_else(|| ApiError::state_machine_does_not_exist(alias_arn))?;
        let draw = fastrand::u32(..100);
        let version = alias
            .pick(draw)
            .ok_or_else(|| ApiError::state_machine_does_not_exist(alias_arn))?;
        self.machine(version).await
    }

    /// DeleteStateMachineVersion's guard: a version an alias routes to stays (`ConflictException`
    /// naming the aliases). The caller holds the machine lock.
    pub(super) async fn check_unreferenced(&self, version_arn: &str) -> Result<(), ApiError> {
        let machine = MachineArn::parse(version_arn).machine();
        let referencing: Vec<String> = self
            .store()
            .aliases(machine)
            .await
            .map_err(store_error)?
            .into_iter()
            .filter(|alias| alias.routing.iter().any(|(v, _)| v == version_arn))
            .map(|alias| alias.name)
            .collect();
        if referencing.is_empty() {
            return Ok(());
        }
        Err(ApiError::conflict(format!(
            "Version to be deleted must not be referenced by an alias. Current list of aliases \
             referencing this version: [{}]",
            referencing.join(", ")
        )))
    }

    /// The alias `arn` names, else `ResourceNotFound`.
    async fn alias(&self, arn: &str) -> Result<AliasRecord, ApiError> {
        alias_arn(arn)?;
        self.store()
            .alias(arn)
            .await
            .map_err(store_error)?
            .ok_or_else(|| ApiError::resource_not_found(arn))
    }

    /// A routing configuration's rules: version ARNs (1 or 2, distinct) of published versions
    /// of one machine, weights summing to 100. Returns the machine and the routing.
    async fn check_routing(
        &self,
        items: &[RoutingConfigurationListItem],
    ) -> Result<(String, Routing), ApiError> {
        let received = || format!("[{}]", arns(items));
        let mut machines = Vec::with_capacity(items.len());
        for item in items {
            let arn = Arn::parse_state_machine(&item.state_machine_version_arn)?;
            if !matches!(arn.resource, Resource::StateMachineVersion { .. }) {
                return Err(ApiError::validation(format!(
                    "Routing configuration must contain state machine version ARNs. Received: {}",
                    received()
                )));
            }
            machines.push(MachineArn::parse(&item.state_machine_version_arn).machine());
        }
        if let [a, b] = items
            && a.state_machine_version_arn == b.state_machine_version_arn
        {
            return Err(ApiError::validation(format!(
                "Routing configuration must contain distinct state machine version ARNs. \
                 Received: {}",
                received()
            )));
        }
        let weights: Vec<String> = items.iter().map(|i| i.weight.to_string()).collect();
        if items.iter().map(|i| i64::from(i.weight)).sum::<i64>() != 100 {
            return Err(ApiError::validation(format!(
                "Sum of routing configuration weights must equal 100. Received: [{}]",
                weights.join(", ")
            )));
        }
        let Some(&machine) = machines.first() else {
            return Err(ApiError::validation(
                "Routing configuration must contain 1 or 2 state machine version ARNs",
            ));
        };
        if machines.iter().any(|m| *m != machine) {
            return Err(ApiError::validation(format!(
                "Routing configuration must contain versions of the same state machine. \
                 Received: {}",
                received()
            )));
        }
        for item in items {
            let version = self
                .store()
                .state_machine(&item.state_machine_version_arn)
                .await
                .map_err(store_error)?;
            if version.is_none() {
                return Err(ApiError::resource_not_found(
                    &item.state_machine_version_arn,
                ));
            }
        }
        let routing = items
            .iter()
            .map(|i| {
                (
                    i.state_machine_version_arn.clone(),
                    u32::try_from(i.weight).unwrap_or(0),
                )
            })
            .collect();
        Ok((machine.to_owned(), routing))
    }
}

/// An alias ARN, else `InvalidArn`.
fn alias_arn(arn: &str) -> Result<(), ApiError> {
    match Arn::parse_state_machine(arn)?.resource {
        Resource::StateMachineAlias { .. } => Ok(()),
        _ => Err(ApiError::invalid_arn(format_args!(
            "Invalid alias ARN: {arn}"
        ))),
    }
}

fn arns(items: &[RoutingConfigurationListItem]) -> String {
    items
        .iter()
        .map(|i| i.state_machine_version_arn.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn routing_items(routing: &[(String, u32)]) -> Vec<RoutingConfigurationListItem> {
    routing
        .iter()
        .map(|(version, weight)| RoutingConfigurationListItem {
            state_machine_version_arn: version.clone(),
            weight: i32::try_from(*weight).unwrap_or(i32::MAX),
        })
        .collect()
}

/// The same routing, in any order.
fn same_routing(a: &[(String, u32)], b: &[(String, u32)]) -> bool {
    let sorted = |r: &[(String, u32)]| {
        let mut r = r.to_vec();
        r.sort();
        r
    };
    sorted(a) == sorted(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_compares_regardless_of_order() {
        let a = vec![("v1".to_string(), 30), ("v2".to_string(), 70)];
        let b = vec![("v2".to_string(), 70), ("v1".to_string(), 30)];
        assert!(same_routing(&a, &b));
        assert!(!same_routing(&a, &[("v1".to_string(), 100)]));
    }
}
