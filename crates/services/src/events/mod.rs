//! EventBridge: event buses, rules and their targets behind the EventBridge API
//! ([`EventsBackend`]), and PutEvents' durable delivery.
//!
//! Buses and rules are records of the store's `resources` table (kinds [`BUS_KIND`] and
//! [`RULE_KIND`], keyed by ARN, bodies the JSON of [`BusDef`] and [`RuleDef`]; a rule carries
//! its targets), also held in memory with each rule's parsed pattern and targets' shaping.
//! Every region has a `default` bus, which exists without a record (one is written once it has
//! tags) and cannot be deleted.
//!
//! PutEvents matches each entry against the enabled rules of its bus (`sluice-patterns`) and
//! records one pending delivery per matched (rule, target) — kind [`DELIVERY_KIND`], the
//! payload already shaped for the target — in the one commit that precedes the answer, so an
//! acknowledged event reaches its targets even across `kill -9`. [`deliver`] then delivers
//! each in the background through [`crate::targets`], retrying per the target's
//! `RetryPolicy` on the clock, then to its dead-letter queue, and deletes the record
//! (at-least-once: a crash between the delivery and the delete delivers again).

mod deliver;
pub mod event;
pub mod input;
mod schedule;
pub mod status;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_api::ApiError;
use sluice_api::events::EventBridge;
use sluice_api::events::model::*;
use sluice_asl::path::Path;
use sluice_clock::Clock;
use sluice_patterns::{Dialect, Pattern};
use sluice_runtime::Tasks;
use sluice_store::{ResourceRecord, Store, Write};
use sluice_types::{Arn, Scope};

use self::deliver::Pending;
use self::input::{RuleRef, Shaping};
use crate::targets::Targets;

/// The store's `resources` kind of a custom (or tagged default) event bus.
pub const BUS_KIND: &str = "events-bus";
/// The store's `resources` kind of a rule (with its targets).
pub const RULE_KIND: &str = "events-rule";
/// The store's `resources` kind of a delivery accepted and not yet done.
pub const DELIVERY_KIND: &str = "events-delivery";
/// The store's `resources` kind of a scheduled rule's next fire (key the rule's ARN).
pub const SCHEDULE_KIND: &str = "events-rule-schedule";

const DEFAULT_BUS: &str = "default";
/// Most targets of a rule (AWS: 5).
const MAX_TARGETS: usize = 5;
/// The listings' page when no `Limit` is given.
const PAGE_SIZE: usize = 100;
/// Most tags on a resource (AWS: 50).
const MAX_TAGS: usize = 50;

/// An event bus as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BusDef {
    pub name: String,
    pub arn: String,
    pub description: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub created_ms: i64,
    pub modified_ms: i64,
}

/// A rule as stored, with its targets (the API's own shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleDef {
    pub name: String,
    pub arn: String,
    pub bus_name: String,
    pub bus_arn: String,
    pub event_pattern: Option<String>,
    pub schedule_expression: Option<String>,
    pub enabled: bool,
    pub description: Option<String>,
    pub role_arn: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub targets: Vec<Target>,
    pub created_ms: i64,
}

/// A rule ready to match: its pattern parsed, its targets' shaping.
struct Rule {
    def: RuleDef,
    pattern: Option<Pattern>,
    shapings: Vec<Shaping>,
}

impl Rule {
    fn new(def: RuleDef) -> Result<Self, ApiError> {
        let pattern = def
            .event_pattern
            .as_deref()
            .map(|text| Pattern::parse(text, Dialect::EventBridge))
            .transpose()
            .map_err(|e| ApiError::new("InvalidEventPatternException", e.message()))?;
        let shapings = def
            .targets
            .iter()
            .map(Shaping::of)
            .collect::<Result<_, _>>()
            .map_err(ApiError::validation)?;
        Ok(Self {
            def,
            pattern,
            shapings,
        })
    }
}

#[derive(Default)]
struct State {
    /// By ARN.
    buses: BTreeMap<String, BusDef>,
    /// By ARN.
    rules: BTreeMap<String, Arc<Rule>>,
    /// Scheduled rules' next fire (ms on the clock), by rule ARN.
    schedules: BTreeMap<String, i64>,
}

struct Inner<S> {
    store: S,
    clock: Clock,
    scope: Scope,
    targets: Targets,
    tasks: Tasks,
    state: Mutex<State>,
    /// Held across a change's checks and commit, so two changes of one rule do not interleave.
    changes: tokio::sync::Mutex<()>,
    /// The deliveries found at open, until [`EventsBackend::resume`] starts them.
    recovered: Mutex<Vec<ResourceRecord>>,
    /// Woken when a schedule changes, so the firing task looks again.
    rescheduled: tokio::sync::Notify,
}

/// The EventBridge API of a server. Clones share everything.
pub struct EventsBackend<S> {
    inner: Arc<Inner<S>>,
}

impl<S> Clone for EventsBackend<S> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

/// The events service's own failure: a store that cannot write or read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the store failed: {0}")]
    Store(#[from] sluice_store::Error),
    #[error("a stored record is unreadable: {0}")]
    Record(#[from] serde_json::Error),
}

fn storage(error: impl std::fmt::Display) -> ApiError {
    ApiError::new("InternalException", error.to_string()).with_status(500)
}

fn not_found(message: String) -> ApiError {
    ApiError::new("ResourceNotFoundException", message)
}

fn bus_not_found(name: &str) -> ApiError {
    not_found(format!("Event bus {name} does not exist."))
}

fn rule_not_found(name: &str, bus: &str) -> ApiError {
    not_found(format!("Rule {name} does not exist on EventBus {bus}."))
}

fn seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

fn tag_map(tags: Option<Vec<Tag>>) -> Result<BTreeMap<String, String>, ApiError> {
    let tags = tags.unwrap_or_default();
    let map: BTreeMap<String, String> = tags
        .iter()
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect();
    if map.len() < tags.len() {
        return Err(ApiError::validation(
            "Invalid parameter: Duplicated keys are not allowed.",
        ));
    }
    Ok(map)
}

fn tag_list(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(key, value)| Tag {
            key: key.clone(),
            value: value.clone(),
        })
        .collect()
}

/// One page of `items` after the token's name, `limit` long.
fn page<T>(
    items: Vec<T>,
    name: impl Fn(&T) -> &str,
    token: Option<&str>,
    limit: Option<i32>,
    kind: &str,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let after = match token {
        Some(token) => Some(
            sluice_types::page_token::decode(kind, token)
                .and_then(|cursor| String::from_utf8(cursor).ok())
                .ok_or_else(|| ApiError::validation("The NextToken provided is invalid."))?,
        ),
        None => None,
    };
    let limit = limit.map_or(PAGE_SIZE, |l| l.clamp(1, PAGE_SIZE as i32) as usize);
    let mut rest: Vec<T> = items
        .into_iter()
        .filter(|item| after.as_deref().is_none_or(|a| name(item) > a))
        .collect();
    let more = rest.len() > limit;
    rest.truncate(limit);
    let next = more
        .then(|| rest.last())
        .flatten()
        .map(|last| sluice_types::page_token::encode(kind, name(last).as_bytes()));
    Ok((rest, next))
}

impl<S: Store> EventsBackend<S> {
    /// Loads the buses, the rules and the deliveries a previous process accepted (which
    /// [`Self::resume`] starts).
    pub async fn open(
        store: S,
        clock: Clock,
        scope: Scope,
        targets: Targets,
    ) -> Result<Self, Error> {
        let mut state = State::default();
        for record in store.resources(BUS_KIND).await? {
            let bus: BusDef = serde_json::from_slice(&record.body)?;
            state.buses.insert(bus.arn.clone(), bus);
        }
        for record in store.resources(RULE_KIND).await? {
            let def: RuleDef = serde_json::from_slice(&record.body)?;
            match Rule::new(def) {
                Ok(rule) => {
                    state.rules.insert(rule.def.arn.clone(), Arc::new(rule));
                }
                Err(error) => {
                    tracing::warn!(key = %record.key, %error, "ignoring an unreadable rule");
                }
            }
        }
        for record in store.resources(SCHEDULE_KIND).await? {
            let next: schedule::Next = serde_json::from_slice(&record.body)?;
            state.schedules.insert(record.key, next.next_ms);
        }
        let pending = store.resources(DELIVERY_KIND).await?;
        let backend = Self {
            inner: Arc::new(Inner {
                store,
                clock,
                scope,
                targets,
                tasks: Tasks::new("events"),
                state: Mutex::new(state),
                changes: tokio::sync::Mutex::new(()),
                recovered: Mutex::new(pending),
                rescheduled: tokio::sync::Notify::new(),
            }),
        };
        Ok(backend)
    }

    /// Starts the deliveries accepted before a restart and the scheduled rules' firing (once
    /// every target service exists; from within the async runtime): a fire missed while the
    /// server was down happens once, now. Returns how many deliveries resumed.
    pub fn resume(&self) -> usize {
        let pending = std::mem::take(
            &mut *self
                .inner
                .recovered
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        let mut resumed = 0;
        for record in pending {
            match serde_json::from_slice::<Pending>(&record.body) {
                Ok(pending) => {
                    self.spawn_delivery(record.key, pending);
                    resumed += 1;
                }
                Err(error) => tracing::warn!(key = %record.key, %error, "unreadable delivery"),
            }
        }
        let backend = self.clone();
        self.inner
            .tasks
            .spawn("schedules", async move { backend.fire_on_time().await });
        resumed
    }

    /// The tasks deliveries run on (`sluice serve` shuts them down).
    pub fn tasks(&self) -> &Tasks {
        &self.inner.tasks
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The scope of the request being served: its signed region, the server's account.
    fn request_scope(&self) -> Scope {
        match sluice_api::gateway::signed_region() {
            Some(region) => Scope::new(region, self.inner.scope.account.clone()),
            None => self.inner.scope.clone(),
        }
    }

    /// `(name, arn)` of the bus a name or ARN designates (`default` when none is given), in
    /// the request's region unless an ARN names another.
    fn bus_ref(&self, scope: &Scope, given: Option<&str>) -> Result<(String, String), ApiError> {
        let given = given.unwrap_or(DEFAULT_BUS);
        if given.starts_with("arn:") {
            let arn = Arn::parse(given).map_err(|_| {
                ApiError::validation(format!(
                    "Parameter {given} is not valid. Reason: Provided Arn is not in correct format."
                ))
            })?;
            let name = arn.resource.strip_prefix("event-bus/").ok_or_else(|| {
                ApiError::validation(format!(
                    "Parameter {given} is not valid. Reason: Provided Arn is not in correct format."
                ))
            })?;
            return Ok((name.to_owned(), given.to_owned()));
        }
        Ok((
            given.to_owned(),
            scope.arn("events", &format!("event-bus/{given}")),
        ))
    }

    /// The bus `arn` names, if it exists (a region's default bus always does).
    fn bus(&self, name: &str, arn: &str) -> Option<BusDef> {
        if let Some(bus) = self.state().buses.get(arn) {
            return Some(bus.clone());
        }
        (name == DEFAULT_BUS).then(|| BusDef {
            name: DEFAULT_BUS.into(),
            arn: arn.to_owned(),
            description: None,
            tags: BTreeMap::new(),
            created_ms: 0,
            modified_ms: 0,
        })
    }

    fn existing_bus(&self, scope: &Scope, given: Option<&str>) -> Result<BusDef, ApiError> {
        let (name, arn) = self.bus_ref(scope, given)?;
        self.bus(&name, &arn).ok_or_else(|| bus_not_found(&name))
    }

    fn rule_arn(bus: &BusDef, name: &str) -> String {
        let prefix = bus.arn.split(":event-bus/").next().unwrap_or_default();
        if bus.name == DEFAULT_BUS {
            format!("{prefix}:rule/{name}")
        } else {
            format!("{prefix}:rule/{}/{name}", bus.name)
        }
    }

    fn rule(&self, bus: &BusDef, name: &str) -> Result<Arc<Rule>, ApiError> {
        self.state()
            .rules
            .get(&Self::rule_arn(bus, name))
            .cloned()
            .ok_or_else(|| rule_not_found(name, &bus.name))
    }

    async fn commit(&self, writes: Vec<Write>) -> Result<(), ApiError> {
        self.inner.store.commit(writes).await.map_err(storage)
    }

    /// Stores `def` and puts it in memory; with `reschedule`, a scheduled rule's next fire is
    /// counted from now (in the same commit), and a rule with no schedule forgets its own.
    async fn save_rule(&self, def: RuleDef, reschedule: bool) -> Result<(), ApiError> {
        let rule = Rule::new(def)?;
        let body = serde_json::to_vec(&rule.def).map_err(storage)?;
        let mut writes = vec![Write::PutResource(ResourceRecord {
            kind: RULE_KIND.into(),
            key: rule.def.arn.clone(),
            body,
        })];
        let next = match &rule.def.schedule_expression {
            Some(expression) if reschedule => {
                let now = self.inner.clock.now_ms();
                schedule::next_fire(expression, rule.def.created_ms, now)
            }
            Some(_) => self.state().schedules.get(&rule.def.arn).copied(),
            None => None,
        };
        writes.push(schedule::write(&rule.def.arn, next));
        self.commit(writes).await?;
        let mut state = self.state();
        match next {
            Some(next) => state.schedules.insert(rule.def.arn.clone(), next),
            None => state.schedules.remove(&rule.def.arn),
        };
        state.rules.insert(rule.def.arn.clone(), Arc::new(rule));
        drop(state);
        self.inner.rescheduled.notify_one();
        Ok(())
    }

    async fn save_bus(&self, bus: BusDef) -> Result<(), ApiError> {
        let body = serde_json::to_vec(&bus).map_err(storage)?;
        self.commit(vec![Write::PutResource(ResourceRecord {
            kind: BUS_KIND.into(),
            key: bus.arn.clone(),
            body,
        })])
        .await?;
        self.state().buses.insert(bus.arn.clone(), bus);
        Ok(())
    }

    /// Changes a rule's definition with `change` (under the change lock); a rule enabled by
    /// the change counts its schedule from now.
    async fn change_rule(
        &self,
        bus: Option<&str>,
        name: &str,
        change: impl FnOnce(&mut RuleDef) -> Result<(), ApiError>,
    ) -> Result<(), ApiError> {
        let scope = self.request_scope();
        let _changing = self.inner.changes.lock().await;
        let bus = self.existing_bus(&scope, bus)?;
        let mut def = self.rule(&bus, name)?.def.clone();
        let was_enabled = def.enabled;
        change(&mut def)?;
        let reschedule = def.enabled && !was_enabled;
        self.save_rule(def, reschedule).await
    }

    /// Accepts events as PutEvents does, in the request's scope: each entry's result, the
    /// pending deliveries of the accepted ones committed before this returns.
    pub async fn put(
        &self,
        entries: Vec<PutEventsRequestEntry>,
    ) -> Result<PutEventsResponse, ApiError> {
        let scope = self.request_scope();
        let total: usize = entries.iter().map(event::entry_size).sum();
        if total > event::MAX_REQUEST_BYTES {
            return Err(ApiError::validation(
                "Total size of the entries in the request is over the limit.",
            ));
        }
        let now = self.inner.clock.now_ms();
        let mut results = Vec::with_capacity(entries.len());
        let mut failed = 0;
        let mut writes = Vec::new();
        let mut deliveries = Vec::new();
        for entry in entries {
            let detail = match event::check(&entry) {
                Ok(detail) => detail,
                Err(error) => {
                    failed += 1;
                    results.push(PutEventsResultEntry {
                        error_code: Some(error.code.into()),
                        error_message: Some(error.message.into()),
                        ..PutEventsResultEntry::default()
                    });
                    continue;
                }
            };
            let (bus_name, bus_arn) = match self.bus_ref(&scope, entry.event_bus_name.as_deref()) {
                Ok(bus) => bus,
                Err(error) => {
                    failed += 1;
                    results.push(PutEventsResultEntry {
                        error_code: Some("InvalidArgument".into()),
                        error_message: Some(error.message),
                        ..PutEventsResultEntry::default()
                    });
                    continue;
                }
            };
            let id = sluice_api::request_id::uuid_v4();
            let bus_scope = Arn::parse(&bus_arn)
                .map(|arn| Scope::new(arn.region, arn.account))
                .unwrap_or_else(|_| scope.clone());
            let time_ms = entry.time.map_or(now, |t| (t * 1000.0) as i64);
            let resources = entry.resources.clone().unwrap_or_default();
            let body = event::envelope(
                event::Fields {
                    id: &id,
                    detail_type: entry.detail_type.as_deref().unwrap_or_default(),
                    source: entry.source.as_deref().unwrap_or_default(),
                    time_ms,
                    resources: &resources,
                    detail: Value::Object(detail),
                },
                &bus_scope.account,
                &bus_scope.region,
            );
            // AWS accepts events for a bus that does not exist and drops them.
            if self.bus(&bus_name, &bus_arn).is_some() {
                self.matched(&bus_arn, &id, &body, now, &mut writes, &mut deliveries);
            }
            results.push(PutEventsResultEntry {
                event_id: Some(id),
                ..PutEventsResultEntry::default()
            });
        }
        if !writes.is_empty() {
            self.commit(writes).await?;
        }
        for (key, pending) in deliveries {
            self.spawn_delivery(key, pending);
        }
        Ok(PutEventsResponse {
            failed_entry_count: Some(failed),
            entries: Some(results),
        })
    }

    /// The pending deliveries of `event` on `bus_arn`: one per target of each enabled rule
    /// whose pattern matches.
    fn matched(
        &self,
        bus_arn: &str,
        id: &str,
        event: &Value,
        now: i64,
        writes: &mut Vec<Write>,
        deliveries: &mut Vec<(String, Pending)>,
    ) {
        let rules: Vec<Arc<Rule>> = self
            .state()
            .rules
            .values()
            .filter(|r| r.def.bus_arn == bus_arn && r.def.enabled)
            .filter(|r| r.pattern.as_ref().is_some_and(|p| p.matches(event)))
            .cloned()
            .collect();
        for rule in rules {
            self.pending_for(&rule, id, event, now, writes, deliveries);
        }
    }

    /// Records `event`'s deliveries to each of `rule`'s targets.
    fn pending_for(
        &self,
        rule: &Rule,
        id: &str,
        event: &Value,
        now: i64,
        writes: &mut Vec<Write>,
        deliveries: &mut Vec<(String, Pending)>,
    ) {
        let at = RuleRef {
            arn: &rule.def.arn,
            name: &rule.def.name,
        };
        for (target, shaping) in rule.def.targets.iter().zip(&rule.shapings) {
            let payload = match shaping.apply(event, at) {
                Ok(payload) => payload,
                Err(reason) => {
                    // As AWS: the event does not reach this target.
                    tracing::info!(rule = %rule.def.arn, target = %target.id, %reason, "input not delivered");
                    continue;
                }
            };
            let pending = Pending::new(target, &rule.def.arn, id, event, payload, now);
            let key = format!("{id}/{}/{}", rule.def.arn, target.id);
            match serde_json::to_vec(&pending) {
                Ok(body) => {
                    writes.push(Write::PutResource(ResourceRecord {
                        kind: DELIVERY_KIND.into(),
                        key: key.clone(),
                        body,
                    }));
                    deliveries.push((key, pending));
                }
                Err(error) => tracing::warn!(%error, "cannot record a delivery"),
            }
        }
    }

    fn spawn_delivery(&self, key: String, pending: Pending) {
        let inner = Arc::clone(&self.inner);
        self.inner.tasks.spawn(
            "delivery",
            deliver::run(
                inner.store.clone(),
                inner.clock.clone(),
                inner.targets.clone(),
                inner.tasks.clone(),
                key,
                pending,
            ),
        );
    }

    /// Fires the scheduled rule `rule_arn` due at `due_ms`: AWS's "Scheduled Event" (its
    /// `time` the fire's) to each of its targets, recorded in one commit with the rule's next
    /// fire, counted from now: fires missed while the server was down are one fire.
    async fn fire(&self, rule_arn: &str, due_ms: i64) -> Result<(), ApiError> {
        let _changing = self.inner.changes.lock().await;
        let rule = self.state().rules.get(rule_arn).cloned();
        let Some(rule) = rule else {
            self.state().schedules.remove(rule_arn);
            return Ok(());
        };
        let now = self.inner.clock.now_ms();
        let next = rule
            .def
            .schedule_expression
            .as_deref()
            .and_then(|e| schedule::next_fire(e, rule.def.created_ms, now.max(due_ms)));
        let mut writes = vec![schedule::write(rule_arn, next)];
        let mut deliveries = Vec::new();
        if rule.def.enabled {
            let id = sluice_api::request_id::uuid_v4();
            let arn = Arn::parse(rule_arn).map_err(storage)?;
            let event = event::envelope(
                event::Fields {
                    id: &id,
                    detail_type: "Scheduled Event",
                    source: "aws.events",
                    time_ms: due_ms,
                    resources: std::slice::from_ref(&rule.def.arn),
                    detail: Value::Object(serde_json::Map::new()),
                },
                arn.account,
                arn.region,
            );
            self.pending_for(&rule, &id, &event, now, &mut writes, &mut deliveries);
        }
        self.commit(writes).await?;
        match next {
            Some(next) => self.state().schedules.insert(rule_arn.to_owned(), next),
            None => self.state().schedules.remove(rule_arn),
        };
        for (key, pending) in deliveries {
            self.spawn_delivery(key, pending);
        }
        Ok(())
    }

    /// Fires every enabled scheduled rule when it is due, on the clock, until shutdown.
    async fn fire_on_time(&self) {
        let stopping = self.inner.tasks.cancelled();
        tokio::pin!(stopping);
        loop {
            let next = {
                let state = self.state();
                state
                    .schedules
                    .iter()
                    .filter(|(arn, _)| state.rules.get(*arn).is_some_and(|r| r.def.enabled))
                    .min_by_key(|(_, due)| **due)
                    .map(|(arn, due)| (arn.clone(), *due))
            };
            let clock = self.inner.clock.clone();
            let due = async {
                match &next {
                    Some((_, due)) => clock.sleep_until(*due).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = due => {
                    if let Some((arn, due)) = next
                        && let Err(error) = self.fire(&arn, due).await
                    {
                        tracing::warn!(rule = %arn, %error, "scheduled rule not fired");
                        // The store fails: try again a little later.
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                }
                () = self.inner.rescheduled.notified() => {}
                () = &mut stopping => return,
            }
        }
    }

    fn describe_bus(bus: &BusDef) -> EventBus {
        EventBus {
            name: Some(bus.name.clone()),
            arn: Some(bus.arn.clone()),
            description: bus.description.clone(),
            creation_time: (bus.created_ms > 0).then(|| seconds(bus.created_ms)),
            last_modified_time: (bus.modified_ms > 0).then(|| seconds(bus.modified_ms)),
            ..EventBus::default()
        }
    }

    fn rule_view(def: &RuleDef) -> Rule_ {
        Rule_ {
            name: Some(def.name.clone()),
            arn: Some(def.arn.clone()),
            event_pattern: def.event_pattern.clone(),
            state: Some(if def.enabled {
                RuleState::Enabled
            } else {
                RuleState::Disabled
            }),
            description: def.description.clone(),
            schedule_expression: def.schedule_expression.clone(),
            role_arn: def.role_arn.clone(),
            managed_by: None,
            event_bus_name: Some(def.bus_name.clone()),
        }
    }

    /// The tags of the bus or rule `arn` names, changed by `change`.
    async fn retag(
        &self,
        arn: &str,
        change: impl FnOnce(&mut BTreeMap<String, String>) -> Result<(), ApiError>,
    ) -> Result<(), ApiError> {
        let _changing = self.inner.changes.lock().await;
        let parsed = Arn::parse(arn).map_err(|_| {
            ApiError::validation(format!(
                "Parameter {arn} is not valid. Reason: Provided Arn is not in correct format."
            ))
        })?;
        if let Some(name) = parsed.resource.strip_prefix("event-bus/") {
            let mut bus = self.bus(name, arn).ok_or_else(|| bus_not_found(name))?;
            change(&mut bus.tags)?;
            return self.save_bus(bus).await;
        }
        if let Some(path) = parsed.resource.strip_prefix("rule/") {
            let (bus, name) = path.rsplit_once('/').unwrap_or((DEFAULT_BUS, path));
            let mut def = self
                .state()
                .rules
                .get(arn)
                .map(|r| r.def.clone())
                .ok_or_else(|| rule_not_found(name, bus))?;
            change(&mut def.tags)?;
            return self.save_rule(def, false).await;
        }
        Err(not_found(format!("Resource {arn} does not exist.")))
    }
}

/// The API's `Rule` shape (renamed: `Rule` is the matcher here).
use sluice_api::events::model::Rule as Rule_;

fn check_targets(targets: &[Target]) -> Result<(), ApiError> {
    for target in targets {
        if Arn::parse(&target.arn).is_err() {
            return Err(ApiError::validation(format!(
                "Parameter {} is not valid. Reason: Provided Arn is not in correct format.",
                target.arn
            )));
        }
        if target.arn.starts_with("arn:")
            && target.arn.contains(":sqs:")
            && target.arn.ends_with(".fifo")
            && target
                .sqs_parameters
                .as_ref()
                .and_then(|p| p.message_group_id.as_ref())
                .is_none()
        {
            return Err(ApiError::validation(format!(
                "Parameter(s) SqsParameters must be specified for target: {}.",
                target.id
            )));
        }
        if let Some(kinesis) = &target.kinesis_parameters
            && Path::parse(&kinesis.partition_key_path).is_err()
        {
            return Err(ApiError::validation(format!(
                "Parameter PartitionKeyPath for target {} is not a valid JSON path.",
                target.id
            )));
        }
        Shaping::of(target).map_err(ApiError::validation)?;
    }
    Ok(())
}

impl<S: Store> EventBridge for EventsBackend<S> {
    async fn create_event_bus(
        &self,
        input: CreateEventBusRequest,
    ) -> Result<CreateEventBusResponse, ApiError> {
        let scope = self.request_scope();
        if input.name.contains('/') {
            return Err(ApiError::validation("Event bus name must not contain '/'."));
        }
        let tags = tag_map(input.tags)?;
        let _changing = self.inner.changes.lock().await;
        let (name, arn) = self.bus_ref(&scope, Some(&input.name))?;
        if self.bus(&name, &arn).is_some() {
            return Err(ApiError::new(
                "ResourceAlreadyExistsException",
                format!("Event bus {name} already exists."),
            ));
        }
        let now = self.inner.clock.now_ms();
        let bus = BusDef {
            name,
            arn: arn.clone(),
            description: input.description.clone(),
            tags,
            created_ms: now,
            modified_ms: now,
        };
        self.save_bus(bus).await?;
        Ok(CreateEventBusResponse {
            event_bus_arn: Some(arn),
            description: input.description,
            ..CreateEventBusResponse::default()
        })
    }

    async fn describe_event_bus(
        &self,
        input: DescribeEventBusRequest,
    ) -> Result<DescribeEventBusResponse, ApiError> {
        let scope = self.request_scope();
        let bus = self.existing_bus(&scope, input.name.as_deref())?;
        let view = Self::describe_bus(&bus);
        Ok(DescribeEventBusResponse {
            name: view.name,
            arn: view.arn,
            description: view.description,
            creation_time: view.creation_time,
            last_modified_time: view.last_modified_time,
            ..DescribeEventBusResponse::default()
        })
    }

    async fn delete_event_bus(&self, input: DeleteEventBusRequest) -> Result<(), ApiError> {
        let scope = self.request_scope();
        if input.name == DEFAULT_BUS {
            return Err(ApiError::validation("Cannot delete event bus default."));
        }
        let _changing = self.inner.changes.lock().await;
        let (name, arn) = self.bus_ref(&scope, Some(&input.name))?;
        if self.bus(&name, &arn).is_none() {
            return Err(bus_not_found(&name));
        }
        // AWS deletes the bus's rules with it.
        let rules: Vec<String> = self
            .state()
            .rules
            .values()
            .filter(|r| r.def.bus_arn == arn)
            .map(|r| r.def.arn.clone())
            .collect();
        let mut writes = vec![Write::DeleteResource {
            kind: BUS_KIND.into(),
            key: arn.clone(),
        }];
        for key in &rules {
            writes.push(Write::DeleteResource {
                kind: RULE_KIND.into(),
                key: key.clone(),
            });
            writes.push(schedule::write(key, None));
        }
        self.commit(writes).await?;
        let mut state = self.state();
        state.buses.remove(&arn);
        for key in rules {
            state.rules.remove(&key);
            state.schedules.remove(&key);
        }
        Ok(())
    }

    async fn list_event_buses(
        &self,
        input: ListEventBusesRequest,
    ) -> Result<ListEventBusesResponse, ApiError> {
        let scope = self.request_scope();
        let prefix = scope.arn("events", "event-bus/");
        let default = self
            .bus(DEFAULT_BUS, &format!("{prefix}{DEFAULT_BUS}"))
            .unwrap_or_else(|| unreachable!("a default bus always exists"));
        let mut buses: BTreeMap<String, BusDef> = self
            .state()
            .buses
            .values()
            .filter(|b| b.arn.starts_with(&prefix))
            .map(|b| (b.name.clone(), b.clone()))
            .collect();
        buses.entry(DEFAULT_BUS.into()).or_insert(default);
        let buses: Vec<BusDef> = buses
            .into_values()
            .filter(|b| {
                input
                    .name_prefix
                    .as_deref()
                    .is_none_or(|p| b.name.starts_with(p))
            })
            .collect();
        let (buses, next) = page(
            buses,
            |b| &b.name,
            input.next_token.as_deref(),
            input.limit,
            "event-buses",
        )?;
        Ok(ListEventBusesResponse {
            event_buses: Some(buses.iter().map(Self::describe_bus).collect()),
            next_token: next,
        })
    }

    async fn put_rule(&self, input: PutRuleRequest) -> Result<PutRuleResponse, ApiError> {
        let scope = self.request_scope();
        if input.event_pattern.is_none() && input.schedule_expression.is_none() {
            return Err(ApiError::validation(
                "Parameter(s) EventPattern or ScheduleExpression must be specified.",
            ));
        }
        let bus = self.existing_bus(&scope, input.event_bus_name.as_deref())?;
        if let Some(expression) = &input.schedule_expression {
            if bus.name != DEFAULT_BUS {
                return Err(ApiError::validation(
                    "ScheduleExpression is supported only on the default event bus.",
                ));
            }
            sluice_schedule::Expression::parse_rule(expression)
                .map_err(|e| ApiError::validation(e.rule_message()))?;
        }
        if let Some(pattern) = &input.event_pattern {
            Pattern::parse(pattern, Dialect::EventBridge)
                .map_err(|e| ApiError::new("InvalidEventPatternException", e.message()))?;
        }
        let tags = tag_map(input.tags)?;
        let _changing = self.inner.changes.lock().await;
        let arn = Self::rule_arn(&bus, &input.name);
        let existing = self.state().rules.get(&arn).map(|r| r.def.clone());
        let enabled = !matches!(input.state, Some(RuleState::Disabled));
        let def = match existing {
            Some(mut def) => {
                def.event_pattern = input.event_pattern;
                def.schedule_expression = input.schedule_expression;
                def.enabled = enabled;
                def.description = input.description;
                def.role_arn = input.role_arn;
                def
            }
            None => RuleDef {
                name: input.name,
                arn: arn.clone(),
                bus_name: bus.name.clone(),
                bus_arn: bus.arn.clone(),
                event_pattern: input.event_pattern,
                schedule_expression: input.schedule_expression,
                enabled,
                description: input.description,
                role_arn: input.role_arn,
                tags,
                targets: Vec::new(),
                created_ms: self.inner.clock.now_ms(),
            },
        };
        self.save_rule(def, true).await?;
        Ok(PutRuleResponse {
            rule_arn: Some(arn),
        })
    }

    async fn describe_rule(
        &self,
        input: DescribeRuleRequest,
    ) -> Result<DescribeRuleResponse, ApiError> {
        let scope = self.request_scope();
        let bus = self.existing_bus(&scope, input.event_bus_name.as_deref())?;
        let rule = self.rule(&bus, &input.name)?;
        let view = Self::rule_view(&rule.def);
        Ok(DescribeRuleResponse {
            name: view.name,
            arn: view.arn,
            event_pattern: view.event_pattern,
            schedule_expression: view.schedule_expression,
            state: view.state,
            description: view.description,
            role_arn: view.role_arn,
            managed_by: None,
            event_bus_name: view.event_bus_name,
            created_by: Some(scope.account),
        })
    }

    async fn list_rules(&self, input: ListRulesRequest) -> Result<ListRulesResponse, ApiError> {
        let scope = self.request_scope();
        let bus = self.existing_bus(&scope, input.event_bus_name.as_deref())?;
        let mut rules: Vec<RuleDef> = self
            .state()
            .rules
            .values()
            .filter(|r| r.def.bus_arn == bus.arn)
            .filter(|r| {
                input
                    .name_prefix
                    .as_deref()
                    .is_none_or(|p| r.def.name.starts_with(p))
            })
            .map(|r| r.def.clone())
            .collect();
        rules.sort_by(|a, b| a.name.cmp(&b.name));
        let (rules, next) = page(
            rules,
            |r| &r.name,
            input.next_token.as_deref(),
            input.limit,
            "rules",
        )?;
        Ok(ListRulesResponse {
            rules: Some(rules.iter().map(Self::rule_view).collect()),
            next_token: next,
        })
    }

    async fn enable_rule(&self, input: EnableRuleRequest) -> Result<(), ApiError> {
        self.change_rule(input.event_bus_name.as_deref(), &input.name, |def| {
            def.enabled = true;
            Ok(())
        })
        .await
    }

    async fn disable_rule(&self, input: DisableRuleRequest) -> Result<(), ApiError> {
        self.change_rule(input.event_bus_name.as_deref(), &input.name, |def| {
            def.enabled = false;
            Ok(())
        })
        .await
    }

    async fn delete_rule(&self, input: DeleteRuleRequest) -> Result<(), ApiError> {
        let scope = self.request_scope();
        let _changing = self.inner.changes.lock().await;
        let bus = self.existing_bus(&scope, input.event_bus_name.as_deref())?;
        let Ok(rule) = self.rule(&bus, &input.name) else {
            // AWS answers a delete of a missing rule with success.
            return Ok(());
        };
        // `Force` is for managed rules: targets still have to go first.
        if !rule.def.targets.is_empty() {
            return Err(ApiError::validation(
                "Rule can't be deleted since it has targets.",
            ));
        }
        self.commit(vec![
            Write::DeleteResource {
                kind: RULE_KIND.into(),
                key: rule.def.arn.clone(),
            },
            schedule::write(&rule.def.arn, None),
        ])
        .await?;
        let mut state = self.state();
        state.rules.remove(&rule.def.arn);
        state.schedules.remove(&rule.def.arn);
        Ok(())
    }

    async fn put_targets(&self, input: PutTargetsRequest) -> Result<PutTargetsResponse, ApiError> {
        check_targets(&input.targets)?;
        let targets = input.targets;
        self.change_rule(input.event_bus_name.as_deref(), &input.rule, |def| {
            for target in targets {
                match def.targets.iter_mut().find(|t| t.id == target.id) {
                    Some(existing) => *existing = target,
                    None => def.targets.push(target),
                }
            }
            if def.targets.len() > MAX_TARGETS {
                return Err(ApiError::new(
                    "LimitExceededException",
                    "The requested resource exceeds the maximum number allowed.",
                ));
            }
            Ok(())
        })
        .await?;
        Ok(PutTargetsResponse {
            failed_entry_count: Some(0),
            failed_entries: Some(Vec::new()),
        })
    }

    async fn remove_targets(
        &self,
        input: RemoveTargetsRequest,
    ) -> Result<RemoveTargetsResponse, ApiError> {
        let ids = input.ids;
        self.change_rule(input.event_bus_name.as_deref(), &input.rule, |def| {
            def.targets.retain(|t| !ids.contains(&t.id));
            Ok(())
        })
        .await?;
        Ok(RemoveTargetsResponse {
            failed_entry_count: Some(0),
            failed_entries: Some(Vec::new()),
        })
    }

    async fn list_targets_by_rule(
        &self,
        input: ListTargetsByRuleRequest,
    ) -> Result<ListTargetsByRuleResponse, ApiError> {
        let scope = self.request_scope();
        let bus = self.existing_bus(&scope, input.event_bus_name.as_deref())?;
        let rule = self.rule(&bus, &input.rule)?;
        // Pages by position: targets keep the order they were put in.
        let numbered: Vec<(String, Target)> = rule
            .def
            .targets
            .iter()
            .enumerate()
            .map(|(i, t)| (format!("{i:03}"), t.clone()))
            .collect();
        let (targets, next) = page(
            numbered,
            |(n, _)| n,
            input.next_token.as_deref(),
            input.limit,
            "targets",
        )?;
        Ok(ListTargetsByRuleResponse {
            targets: Some(targets.into_iter().map(|(_, t)| t).collect()),
            next_token: next,
        })
    }

    async fn list_rule_names_by_target(
        &self,
        input: ListRuleNamesByTargetRequest,
    ) -> Result<ListRuleNamesByTargetResponse, ApiError> {
        let scope = self.request_scope();
        let bus = self.existing_bus(&scope, input.event_bus_name.as_deref())?;
        let mut names: Vec<String> = self
            .state()
            .rules
            .values()
            .filter(|r| r.def.bus_arn == bus.arn)
            .filter(|r| r.def.targets.iter().any(|t| t.arn == input.target_arn))
            .map(|r| r.def.name.clone())
            .collect();
        names.sort();
        let (names, next) = page(
            names,
            |n| n,
            input.next_token.as_deref(),
            input.limit,
            "rule-names",
        )?;
        Ok(ListRuleNamesByTargetResponse {
            rule_names: Some(names),
            next_token: next,
        })
    }

    async fn test_event_pattern(
        &self,
        input: TestEventPatternRequest,
    ) -> Result<TestEventPatternResponse, ApiError> {
        let pattern = Pattern::parse(&input.event_pattern, Dialect::EventBridge)
            .map_err(|e| ApiError::new("InvalidEventPatternException", e.message()))?;
        let event: Value = serde_json::from_str(&input.event)
            .map_err(|_| ApiError::validation("Parameter Event is not valid."))?;
        let mandatory = ["id", "account", "source", "time", "region", "detail-type"];
        if !mandatory.iter().all(|field| event.get(field).is_some()) {
            return Err(ApiError::validation("Parameter Event is not valid."));
        }
        Ok(TestEventPatternResponse {
            result: Some(pattern.matches(&event)),
        })
    }

    async fn put_events(&self, input: PutEventsRequest) -> Result<PutEventsResponse, ApiError> {
        self.put(input.entries).await
    }

    async fn tag_resource(
        &self,
        input: TagResourceRequest,
    ) -> Result<TagResourceResponse, ApiError> {
        let add = tag_map(Some(input.tags))?;
        self.retag(&input.resource_arn, |tags| {
            tags.extend(add);
            if tags.len() > MAX_TAGS {
                // Nothing is written.
                return Err(ApiError::validation(format!(
                    "A resource cannot have more than {MAX_TAGS} tags."
                )));
            }
            Ok(())
        })
        .await?;
        Ok(TagResourceResponse::default())
    }

    async fn untag_resource(
        &self,
        input: UntagResourceRequest,
    ) -> Result<UntagResourceResponse, ApiError> {
        let remove = input.tag_keys;
        self.retag(&input.resource_arn, |tags| {
            for key in &remove {
                tags.remove(key);
            }
            Ok(())
        })
        .await?;
        Ok(UntagResourceResponse::default())
    }

    async fn list_tags_for_resource(
        &self,
        input: ListTagsForResourceRequest,
    ) -> Result<ListTagsForResourceResponse, ApiError> {
        let arn = &input.resource_arn;
        let parsed = Arn::parse(arn).map_err(|_| {
            ApiError::validation(format!(
                "Parameter {arn} is not valid. Reason: Provided Arn is not in correct format."
            ))
        })?;
        let tags = if let Some(name) = parsed.resource.strip_prefix("event-bus/") {
            self.bus(name, arn).ok_or_else(|| bus_not_found(name))?.tags
        } else if let Some(path) = parsed.resource.strip_prefix("rule/") {
            let (bus, name) = path.rsplit_once('/').unwrap_or((DEFAULT_BUS, path));
            self.state()
                .rules
                .get(arn.as_str())
                .map(|r| r.def.tags.clone())
                .ok_or_else(|| rule_not_found(name, bus))?
        } else {
            return Err(not_found(format!("Resource {arn} does not exist.")));
        };
        Ok(ListTagsForResourceResponse {
            tags: Some(tag_list(&tags)),
        })
    }
}
