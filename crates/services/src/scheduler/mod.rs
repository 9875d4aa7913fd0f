//! EventBridge Scheduler: the API ([`SchedulerBackend`]: schedules and schedule groups, tags on
//! groups, AWS's defaults and errors) and the durable firing behind it.
//!
//! Records of the store's `resources` table: groups (kind [`GROUP_KIND`], key the name),
//! schedules (kind [`SCHEDULE_KIND`], key `group/name`, body with the nominal time of the next
//! fire) and pending deliveries (kind [`DELIVERY_KIND`], key the invocation id). A fire
//! ([`fire`]) commits the schedule's next fire time and the delivery it owes in one commit, so
//! a crash neither loses a fire nor fires twice (the delivery itself is at-least-once: a
//! delivery made but not yet recorded as done is made again after a restart). A fire missed
//! while the server was down happens once when it starts again, not once per missed period.
//! Deliveries ([`deliver`]) retry on the server's clock with backoff, up to the target's
//! RetryPolicy, then go to its dead-letter queue.
//!
//! Expressions and time zones are `sluice-schedule`'s; time is the server's clock
//! (`--time-scale`, `/sluice/clock`).

mod deliver;
mod fire;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sluice_api::ApiError;
use sluice_api::scheduler::Scheduler;
use sluice_api::scheduler::model::{
    ActionAfterCompletion, CreateScheduleGroupInput, CreateScheduleGroupOutput,
    CreateScheduleInput, CreateScheduleOutput, DeleteScheduleGroupInput, DeleteScheduleGroupOutput,
    DeleteScheduleInput, DeleteScheduleOutput, FlexibleTimeWindow, FlexibleTimeWindowMode,
    GetScheduleGroupInput, GetScheduleGroupOutput, GetScheduleInput, GetScheduleOutput,
    ListScheduleGroupsInput, ListScheduleGroupsOutput, ListSchedulesInput, ListSchedulesOutput,
    ListTagsForResourceInput, ListTagsForResourceOutput, RetryPolicy, ScheduleGroupState,
    ScheduleGroupSummary, ScheduleState, ScheduleSummary, Tag, TagResourceInput, TagResourceOutput,
    Target, TargetSummary, UntagResourceInput, UntagResourceOutput, UpdateScheduleInput,
    UpdateScheduleOutput,
};
use sluice_clock::Clock;
use sluice_schedule::{Bounds, Expression, Zone};
use sluice_store::{ResourceRecord, Store, Write};
use sluice_types::Scope;
use tokio::sync::Notify;

use crate::integrations::aws_sdk::AwsSdk;

/// The store's `resources` kinds.
pub const GROUP_KIND: &str = "scheduler-group";
pub const SCHEDULE_KIND: &str = "scheduler-schedule";
pub const DELIVERY_KIND: &str = "scheduler-delivery";

/// The group a schedule belongs to when none is named; it always exists.
pub const DEFAULT_GROUP: &str = "default";

/// RetryPolicy's defaults, as GetSchedule shows them.
const DEFAULT_MAX_AGE_SECONDS: i32 = 86_400;
const DEFAULT_MAX_RETRIES: i32 = 185;

/// The largest (and default) page of the listings.
const PAGE_SIZE: usize = 100;

/// How many deletes' ClientTokens are remembered.
const DELETED_TOKENS: usize = 1024;

/// How far in the past a recurring schedule's StartDate may be.
const START_DATE_SLACK_MS: i64 = 5 * 60_000;

/// A schedule as created and updated, as stored: the API's own shapes, and its next fire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ScheduleRecord {
    name: String,
    group: String,
    arn: String,
    description: Option<String>,
    expression: String,
    timezone: Option<String>,
    /// Epoch seconds, as the API carries them.
    start_date: Option<f64>,
    end_date: Option<f64>,
    state: ScheduleState,
    kms_key_arn: Option<String>,
    target: Target,
    flexible_time_window: FlexibleTimeWindow,
    action_after_completion: ActionAfterCompletion,
    client_token: Option<String>,
    created_ms: i64,
    modified_ms: i64,
    /// Where a rate counts its periods from: StartDate, or when it was created or updated.
    anchor_ms: i64,
    /// The nominal time of the next fire (a flexible window may fire later); None once no
    /// fire remains.
    next_ms: Option<i64>,
}

impl ScheduleRecord {
    fn key(&self) -> String {
        key(&self.group, &self.name)
    }

    fn resource(&self) -> Result<ResourceRecord, ApiError> {
        Ok(ResourceRecord {
            kind: SCHEDULE_KIND.to_owned(),
            key: self.key(),
            body: serde_json::to_vec(self).map_err(internal)?,
        })
    }

    fn enabled(&self) -> bool {
        self.state == ScheduleState::Enabled
    }

    /// When the next fire happens: its nominal time plus the flexible window's offset, which
    /// is spread over the window by a hash of the schedule and the nominal time (so it is the
    /// same after a restart).
    fn fire_ms(&self) -> Option<i64> {
        let nominal = self.next_ms?;
        let window_ms = match self.flexible_time_window.mode {
            FlexibleTimeWindowMode::Flexible => {
                i64::from(
                    self.flexible_time_window
                        .maximum_window_in_minutes
                        .unwrap_or(0),
                ) * 60_000
            }
            FlexibleTimeWindowMode::Off => 0,
        };
        if window_ms <= 0 {
            return Some(nominal);
        }
        let hash = fnv1a(format!("{}@{nominal}", self.arn).as_bytes());
        Some(nominal + (hash % window_ms as u64) as i64)
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A schedule compiled: its record, expression and zone.
#[derive(Debug)]
pub(crate) struct Live {
    record: ScheduleRecord,
    expression: Expression,
    zone: Zone,
    counters: Arc<Counters>,
}

impl Live {
    fn compile(record: ScheduleRecord, counters: Arc<Counters>) -> Result<Live, ApiError> {
        let expression = parse_expression(&record.expression)?;
        let zone = parse_zone(record.timezone.as_deref())?;
        Ok(Live {
            record,
            expression,
            zone,
            counters,
        })
    }

    fn bounds(&self) -> Bounds {
        Bounds {
            start: timestamp(self.record.anchor_ms),
            end: self.record.end_date.map(seconds_to_ms).map(timestamp),
        }
    }

    /// The nominal time of the first fire at or after `now_ms`.
    fn first_from(&self, now_ms: i64) -> Option<i64> {
        let before = timestamp(now_ms - 1);
        self.expression
            .next_after(&self.zone, before, self.bounds())
            .map(|t| t.as_millisecond())
    }

    /// The nominal time of the fire after the one due at `nominal_ms`, fired at `now_ms`: the
    /// next one after it, or, when that one is past too (the server was down), the first one
    /// after now: missed fires happen once.
    fn after_fire(&self, nominal_ms: i64, now_ms: i64) -> Option<i64> {
        let next = |after: i64| {
            self.expression
                .next_after(&self.zone, timestamp(after), self.bounds())
                .map(|t| t.as_millisecond())
        };
        match next(nominal_ms) {
            Some(at) if at < now_ms => next(now_ms),
            other => other,
        }
    }
}

/// What a schedule did since the server started, for `sluice schedules`.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    fired: AtomicU64,
    delivered: AtomicU64,
    failed_attempts: AtomicU64,
    dead_lettered: AtomicU64,
    /// The last fire's lateness past its due time, in ms.
    last_late_ms: AtomicU64,
}

/// A schedule group as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupRecord {
    name: String,
    arn: String,
    tags: BTreeMap<String, String>,
    /// CreateScheduleGroup's, so a retried create answers as the first did.
    #[serde(default)]
    client_token: Option<String>,
    created_ms: i64,
    modified_ms: i64,
}

impl GroupRecord {
    fn resource(&self) -> Result<ResourceRecord, ApiError> {
        Ok(ResourceRecord {
            kind: GROUP_KIND.to_owned(),
            key: self.name.clone(),
            body: serde_json::to_vec(self).map_err(internal)?,
        })
    }
}

/// A schedule at a glance, for `sluice schedules`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleStats {
    pub name: String,
    pub group: String,
    pub expression: String,
    pub timezone: String,
    pub enabled: bool,
    pub target: String,
    /// When the next fire happens (flexible window included), epoch ms.
    pub next_fire_ms: Option<i64>,
    pub fired: u64,
    pub delivered: u64,
    pub failed_attempts: u64,
    pub dead_lettered: u64,
    pub last_late_ms: u64,
}

/// The EventBridge Scheduler of a server, behind the Scheduler API. Cheap to clone.
#[derive(Clone)]
pub struct SchedulerBackend<S: Store> {
    inner: Arc<Inner<S>>,
}

pub(crate) struct Inner<S: Store> {
    store: S,
    clock: Clock,
    scope: Scope,
    /// Templated targets' deliveries.
    targets: crate::targets::Targets,
    /// Universal targets' calls.
    sdk: Arc<AwsSdk>,
    tasks: sluice_runtime::Tasks,
    /// By `group/name`.
    schedules: Mutex<BTreeMap<String, Live>>,
    groups: Mutex<BTreeMap<String, GroupRecord>>,
    /// Deliveries made and pending, for the view.
    pending: AtomicU64,
    /// The ClientTokens of the deletes done since the server started (bounded), so a retried
    /// delete answers as the first did.
    deleted_tokens: Mutex<std::collections::VecDeque<String>>,
    /// Wakes the timer when a schedule changes.
    changed: Notify,
    /// Held across a change's checks and commit and across a fire, so a fire never races an
    /// update or a delete of its schedule.
    changes: tokio::sync::Mutex<()>,
}

impl<S: Store> Inner<S> {
    fn schedules(&self) -> MutexGuard<'_, BTreeMap<String, Live>> {
        self.schedules.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn groups(&self) -> MutexGuard<'_, BTreeMap<String, GroupRecord>> {
        self.groups.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn group_arn(&self, name: &str) -> String {
        self.scope
            .arn("scheduler", &format!("schedule-group/{name}"))
    }
}

fn key(group: &str, name: &str) -> String {
    format!("{group}/{name}")
}

fn timestamp(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(if ms < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

fn seconds_to_ms(seconds: f64) -> i64 {
    (seconds * 1000.0).round() as i64
}

fn ms_to_seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

fn validation(message: impl Into<String>) -> ApiError {
    ApiError::new("ValidationException", message)
}

fn not_found(message: impl Into<String>) -> ApiError {
    ApiError::new("ResourceNotFoundException", message).with_status(404)
}

fn conflict(message: impl Into<String>) -> ApiError {
    ApiError::new("ConflictException", message).with_status(409)
}

fn internal(error: impl std::fmt::Display) -> ApiError {
    ApiError::new("InternalServerException", error.to_string()).with_status(500)
}

fn schedule_not_found(name: &str) -> ApiError {
    not_found(format!("Schedule {name} does not exist."))
}

fn group_not_found(name: &str) -> ApiError {
    not_found(format!("Schedule group {name} does not exist."))
}

fn parse_expression(text: &str) -> Result<Expression, ApiError> {
    Expression::parse_schedule(text).map_err(|e| validation(e.schedule_message()))
}

fn parse_zone(name: Option<&str>) -> Result<Zone, ApiError> {
    match name {
        None => Ok(Zone::utc()),
        Some(name) => {
            Zone::parse(name).map_err(|_| validation(format!("Invalid time zone {name}.")))
        }
    }
}

/// A CreateSchedule's or UpdateSchedule's members (the two inputs have the same ones) as
/// [`Settings`] in `group`.
macro_rules! settings {
    ($input:ident, $group:ident) => {
        Settings {
            name: $input.name,
            group: Some($group),
            expression: $input.schedule_expression,
            timezone: $input.schedule_expression_timezone,
            start_date: $input.start_date,
            end_date: $input.end_date,
            description: $input.description,
            state: $input.state,
            kms_key_arn: $input.kms_key_arn,
            target: $input.target,
            flexible_time_window: $input.flexible_time_window,
            client_token: $input.client_token,
            action_after_completion: $input.action_after_completion,
        }
    };
}

/// What CreateSchedule and UpdateSchedule share.
struct Settings {
    name: String,
    group: Option<String>,
    expression: String,
    timezone: Option<String>,
    start_date: Option<f64>,
    end_date: Option<f64>,
    description: Option<String>,
    state: Option<ScheduleState>,
    kms_key_arn: Option<String>,
    target: Target,
    flexible_time_window: FlexibleTimeWindow,
    client_token: Option<String>,
    action_after_completion: Option<ActionAfterCompletion>,
}

impl<S: Store> SchedulerBackend<S> {
    /// Loads the groups and schedules; nothing fires until [`SchedulerBackend::resume`].
    pub async fn open(
        store: S,
        clock: Clock,
        targets: crate::targets::Targets,
        sdk: Arc<AwsSdk>,
        scope: Scope,
    ) -> Result<Self, sluice_store::Error> {
        let mut groups = BTreeMap::new();
        for record in store.resources(GROUP_KIND).await? {
            match serde_json::from_slice::<GroupRecord>(&record.body) {
                Ok(group) => {
                    groups.insert(group.name.clone(), group);
                }
                Err(error) => tracing::warn!(key = %record.key, %error, "unreadable group skipped"),
            }
        }
        let now = clock.now_ms();
        let default_group = GroupRecord {
            name: DEFAULT_GROUP.to_owned(),
            arn: scope.arn("scheduler", &format!("schedule-group/{DEFAULT_GROUP}")),
            tags: BTreeMap::new(),
            client_token: None,
            created_ms: now,
            modified_ms: now,
        };
        if !groups.contains_key(DEFAULT_GROUP) {
            // Kept, so its creation date stays the same across restarts.
            if let Ok(resource) = default_group.resource() {
                store.commit(vec![Write::PutResource(resource)]).await?;
            }
            groups.insert(DEFAULT_GROUP.to_owned(), default_group);
        }
        let mut schedules = BTreeMap::new();
        for record in store.resources(SCHEDULE_KIND).await? {
            let compiled = serde_json::from_slice::<ScheduleRecord>(&record.body)
                .map_err(|e| e.to_string())
                .and_then(|r| Live::compile(r, Arc::default()).map_err(|e| e.message));
            match compiled {
                Ok(live) => {
                    schedules.insert(record.key, live);
                }
                Err(error) => {
                    tracing::warn!(key = %record.key, %error, "unreadable schedule skipped");
                }
            }
        }
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                clock,
                scope,
                targets,
                sdk,
                tasks: sluice_runtime::Tasks::new("scheduler"),
                schedules: Mutex::new(schedules),
                groups: Mutex::new(groups),
                pending: AtomicU64::new(0),
                deleted_tokens: Mutex::new(std::collections::VecDeque::new()),
                changed: Notify::new(),
                changes: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// Starts the timer (fires missed while the server was down happen now, once each) and
    /// the deliveries a previous process left pending; returns how many of those.
    pub async fn resume(&self) -> usize {
        let pending = deliver::resume(&self.inner).await;
        fire::start(&self.inner);
        pending
    }

    /// The timer and the deliveries, for an orderly shutdown.
    pub fn tasks(&self) -> &sluice_runtime::Tasks {
        &self.inner.tasks
    }

    /// Every schedule at a glance, by group and name.
    pub fn stats(&self) -> Vec<ScheduleStats> {
        let read = |c: &AtomicU64| c.load(Ordering::Relaxed);
        self.inner
            .schedules()
            .values()
            .map(|live| {
                let r = &live.record;
                ScheduleStats {
                    name: r.name.clone(),
                    group: r.group.clone(),
                    expression: r.expression.clone(),
                    timezone: r.timezone.clone().unwrap_or_else(|| "UTC".to_owned()),
                    enabled: r.enabled(),
                    target: r.target.arn.clone(),
                    next_fire_ms: r.fire_ms().filter(|_| r.enabled()),
                    fired: read(&live.counters.fired),
                    delivered: read(&live.counters.delivered),
                    failed_attempts: read(&live.counters.failed_attempts),
                    dead_lettered: read(&live.counters.dead_lettered),
                    last_late_ms: read(&live.counters.last_late_ms),
                }
            })
            .collect()
    }

    /// Deliveries fired and not yet done (retrying, or in flight).
    pub fn pending_deliveries(&self) -> u64 {
        self.inner.pending.load(Ordering::Relaxed)
    }

    /// The clock schedules fire on.
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    fn group_exists(&self, name: &str) -> bool {
        self.inner.groups().contains_key(name)
    }

    /// Checks `settings` and builds the record they describe (next fire computed from now).
    fn record(
        &self,
        settings: Settings,
        created_ms: i64,
    ) -> Result<(ScheduleRecord, Live), ApiError> {
        let now = self.inner.clock.now_ms();
        let group = settings.group.unwrap_or_else(|| DEFAULT_GROUP.to_owned());
        let expression = parse_expression(&settings.expression)?;
        parse_zone(settings.timezone.as_deref())?;
        let window = &settings.flexible_time_window;
        match (window.mode, window.maximum_window_in_minutes) {
            (FlexibleTimeWindowMode::Flexible, None) => {
                return Err(validation(
                    "MaximumWindowInMinutes must be provided when the FlexibleTimeWindow mode \
                     is FLEXIBLE.",
                ));
            }
            (FlexibleTimeWindowMode::Off, Some(_)) => {
                return Err(validation(
                    "MaximumWindowInMinutes must not be provided when the FlexibleTimeWindow \
                     mode is OFF.",
                ));
            }
            _ => {}
        }
        let start_ms = settings.start_date.map(seconds_to_ms);
        let end_ms = settings.end_date.map(seconds_to_ms);
        if !expression.is_one_time() {
            if let Some(start) = start_ms
                && start < now - START_DATE_SLACK_MS
            {
                return Err(validation(
                    "The StartDate you specify cannot be earlier than 5 minutes ago.",
                ));
            }
            if let Some(end) = end_ms
                && start_ms.is_some_and(|start| end <= start)
            {
                return Err(validation(
                    "The EndDate you specify must be after the StartDate.",
                ));
            }
        }
        if let Some(dlq) = settings
            .target
            .dead_letter_config
            .as_ref()
            .and_then(|d| d.arn.as_ref())
            && dlq.ends_with(".fifo")
        {
            return Err(validation(
                "EventBridge Scheduler does not support FIFO queues as dead-letter queues.",
            ));
        }
        let mut target = settings.target;
        let retry = target.retry_policy.get_or_insert_with(RetryPolicy::default);
        retry
            .maximum_event_age_in_seconds
            .get_or_insert(DEFAULT_MAX_AGE_SECONDS);
        retry
            .maximum_retry_attempts
            .get_or_insert(DEFAULT_MAX_RETRIES);
        deliver::check_target(&target)?;
        let arn = self
            .inner
            .scope
            .arn("scheduler", &format!("schedule/{group}/{}", settings.name));
        let mut record = ScheduleRecord {
            name: settings.name,
            group,
            arn,
            description: settings.description,
            expression: settings.expression,
            timezone: settings.timezone,
            start_date: settings.start_date,
            end_date: settings.end_date,
            state: settings.state.unwrap_or(ScheduleState::Enabled),
            kms_key_arn: settings.kms_key_arn,
            target,
            flexible_time_window: settings.flexible_time_window,
            action_after_completion: settings
                .action_after_completion
                .unwrap_or(ActionAfterCompletion::None),
            client_token: settings.client_token,
            created_ms,
            modified_ms: now,
            anchor_ms: start_ms.unwrap_or(now),
            next_ms: None,
        };
        let live = Live::compile(record.clone(), Arc::default())?;
        record.next_ms = live.first_from(now);
        let live = Live {
            record: record.clone(),
            ..live
        };
        Ok((record, live))
    }

    /// Commits `writes` and applies `apply` to memory once durable, then wakes the timer.
    async fn commit(&self, writes: Vec<Write>) -> Result<(), ApiError> {
        self.inner.store.commit(writes).await.map_err(internal)
    }

    /// Whether a delete with this ClientToken was done already.
    fn deleted_before(&self, token: Option<&String>) -> bool {
        let tokens = self
            .inner
            .deleted_tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        token.is_some_and(|t| tokens.contains(t))
    }

    fn remember_delete(&self, token: Option<String>) {
        if let Some(token) = token {
            let mut tokens = self
                .inner
                .deleted_tokens
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if tokens.len() >= DELETED_TOKENS {
                tokens.pop_front();
            }
            tokens.push_back(token);
        }
    }

    fn woken(&self) {
        self.inner.changed.notify_one();
    }

    fn group_of(input: Option<&String>) -> String {
        input.cloned().unwrap_or_else(|| DEFAULT_GROUP.to_owned())
    }
}

impl<S: Store> Scheduler for SchedulerBackend<S> {
    async fn create_schedule(
        &self,
        input: CreateScheduleInput,
    ) -> Result<CreateScheduleOutput, ApiError> {
        let _changing = self.inner.changes.lock().await;
        let group = Self::group_of(input.group_name.as_ref());
        if !self.group_exists(&group) {
            return Err(group_not_found(&group));
        }
        if let Some(existing) = self.inner.schedules().get(&key(&group, &input.name)) {
            // A retried request (same ClientToken) answers as the first did.
            if input.client_token.is_some() && existing.record.client_token == input.client_token {
                return Ok(CreateScheduleOutput {
                    schedule_arn: existing.record.arn.clone(),
                });
            }
            return Err(conflict(format!("Schedule {} already exists.", input.name)));
        }
        let now = self.inner.clock.now_ms();
        let (record, live) = self.record(settings!(input, group), now)?;
        self.commit(vec![Write::PutResource(record.resource()?)])
            .await?;
        let arn = record.arn.clone();
        self.inner.schedules().insert(record.key(), live);
        self.woken();
        Ok(CreateScheduleOutput { schedule_arn: arn })
    }

    async fn update_schedule(
        &self,
        input: UpdateScheduleInput,
    ) -> Result<UpdateScheduleOutput, ApiError> {
        let _changing = self.inner.changes.lock().await;
        let group = Self::group_of(input.group_name.as_ref());
        if !self.group_exists(&group) {
            return Err(group_not_found(&group));
        }
        let k = key(&group, &input.name);
        let (created_ms, counters) = match self.inner.schedules().get(&k) {
            Some(live) => (live.record.created_ms, Arc::clone(&live.counters)),
            None => return Err(schedule_not_found(&input.name)),
        };
        let (record, live) = self.record(settings!(input, group), created_ms)?;
        self.commit(vec![Write::PutResource(record.resource()?)])
            .await?;
        let arn = record.arn.clone();
        self.inner.schedules().insert(k, Live { counters, ..live });
        self.woken();
        Ok(UpdateScheduleOutput { schedule_arn: arn })
    }

    async fn get_schedule(&self, input: GetScheduleInput) -> Result<GetScheduleOutput, ApiError> {
        let group = Self::group_of(input.group_name.as_ref());
        let schedules = self.inner.schedules();
        let live = schedules
            .get(&key(&group, &input.name))
            .ok_or_else(|| schedule_not_found(&input.name))?;
        let r = &live.record;
        Ok(GetScheduleOutput {
            arn: Some(r.arn.clone()),
            group_name: Some(r.group.clone()),
            name: Some(r.name.clone()),
            schedule_expression: Some(r.expression.clone()),
            start_date: r.start_date,
            end_date: r.end_date,
            description: r.description.clone(),
            schedule_expression_timezone: Some(
                r.timezone.clone().unwrap_or_else(|| "UTC".to_owned()),
            ),
            state: Some(r.state),
            creation_date: Some(ms_to_seconds(r.created_ms)),
            last_modification_date: Some(ms_to_seconds(r.modified_ms)),
            kms_key_arn: r.kms_key_arn.clone(),
            target: Some(r.target.clone()),
            flexible_time_window: Some(r.flexible_time_window.clone()),
            action_after_completion: Some(r.action_after_completion),
        })
    }

    async fn delete_schedule(
        &self,
        input: DeleteScheduleInput,
    ) -> Result<DeleteScheduleOutput, ApiError> {
        let _changing = self.inner.changes.lock().await;
        let group = Self::group_of(input.group_name.as_ref());
        if !self.group_exists(&group) {
            return Err(group_not_found(&group));
        }
        let k = key(&group, &input.name);
        if !self.inner.schedules().contains_key(&k) {
            if self.deleted_before(input.client_token.as_ref()) {
                return Ok(DeleteScheduleOutput {});
            }
            return Err(schedule_not_found(&input.name));
        }
        self.commit(vec![Write::DeleteResource {
            kind: SCHEDULE_KIND.to_owned(),
            key: k.clone(),
        }])
        .await?;
        self.inner.schedules().remove(&k);
        self.remember_delete(input.client_token);
        self.woken();
        Ok(DeleteScheduleOutput {})
    }

    async fn list_schedules(
        &self,
        input: ListSchedulesInput,
    ) -> Result<ListSchedulesOutput, ApiError> {
        let after = cursor(input.next_token.as_deref(), "schedules")?;
        if let Some(group) = &input.group_name
            && !self.group_exists(group)
        {
            return Err(group_not_found(group));
        }
        let schedules = self.inner.schedules();
        let all: Vec<&ScheduleRecord> = schedules
            .iter()
            .filter(|(k, _)| after.as_deref().is_none_or(|after| k.as_str() > after))
            .map(|(_, live)| &live.record)
            .filter(|r| input.group_name.as_ref().is_none_or(|g| *g == r.group))
            .filter(|r| {
                input
                    .name_prefix
                    .as_deref()
                    .is_none_or(|p| r.name.starts_with(p))
            })
            .filter(|r| input.state.is_none_or(|s| s == r.state))
            .collect();
        let size = page_size(input.max_results);
        let page = &all[..size.min(all.len())];
        let next_token = (page.len() < all.len())
            .then(|| page.last())
            .flatten()
            .map(|r| sluice_types::page_token::encode("schedules", r.key().as_bytes()));
        Ok(ListSchedulesOutput {
            next_token,
            schedules: page
                .iter()
                .map(|r| ScheduleSummary {
                    arn: Some(r.arn.clone()),
                    name: Some(r.name.clone()),
                    group_name: Some(r.group.clone()),
                    state: Some(r.state),
                    creation_date: Some(ms_to_seconds(r.created_ms)),
                    last_modification_date: Some(ms_to_seconds(r.modified_ms)),
                    target: Some(TargetSummary {
                        arn: r.target.arn.clone(),
                    }),
                })
                .collect(),
        })
    }

    async fn create_schedule_group(
        &self,
        input: CreateScheduleGroupInput,
    ) -> Result<CreateScheduleGroupOutput, ApiError> {
        let _changing = self.inner.changes.lock().await;
        if let Some(existing) = self.inner.groups().get(&input.name) {
            if input.client_token.is_some() && existing.client_token == input.client_token {
                return Ok(CreateScheduleGroupOutput {
                    schedule_group_arn: existing.arn.clone(),
                });
            }
            return Err(conflict(format!(
                "Schedule group {} already exists.",
                input.name
            )));
        }
        let now = self.inner.clock.now_ms();
        let group = GroupRecord {
            arn: self.inner.group_arn(&input.name),
            name: input.name,
            tags: input
                .tags
                .unwrap_or_default()
                .into_iter()
                .map(|t| (t.key, t.value))
                .collect(),
            client_token: input.client_token,
            created_ms: now,
            modified_ms: now,
        };
        self.commit(vec![Write::PutResource(group.resource()?)])
            .await?;
        let arn = group.arn.clone();
        self.inner.groups().insert(group.name.clone(), group);
        Ok(CreateScheduleGroupOutput {
            schedule_group_arn: arn,
        })
    }

    async fn get_schedule_group(
        &self,
        input: GetScheduleGroupInput,
    ) -> Result<GetScheduleGroupOutput, ApiError> {
        let groups = self.inner.groups();
        let group = groups
            .get(&input.name)
            .ok_or_else(|| group_not_found(&input.name))?;
        Ok(GetScheduleGroupOutput {
            arn: Some(group.arn.clone()),
            name: Some(group.name.clone()),
            state: Some(ScheduleGroupState::Active),
            creation_date: Some(ms_to_seconds(group.created_ms)),
            last_modification_date: Some(ms_to_seconds(group.modified_ms)),
        })
    }

    async fn delete_schedule_group(
        &self,
        input: DeleteScheduleGroupInput,
    ) -> Result<DeleteScheduleGroupOutput, ApiError> {
        let _changing = self.inner.changes.lock().await;
        if input.name == DEFAULT_GROUP {
            return Err(validation("You cannot delete the default group."));
        }
        if !self.group_exists(&input.name) {
            if self.deleted_before(input.client_token.as_ref()) {
                return Ok(DeleteScheduleGroupOutput {});
            }
            return Err(group_not_found(&input.name));
        }
        // The group and its schedules go in one commit.
        let prefix = key(&input.name, "");
        let doomed: Vec<String> = self
            .inner
            .schedules()
            .keys()
            .filter(|k| k.starts_with(&prefix))
            .cloned()
            .collect();
        let mut writes: Vec<Write> = doomed
            .iter()
            .map(|k| Write::DeleteResource {
                kind: SCHEDULE_KIND.to_owned(),
                key: k.clone(),
            })
            .collect();
        writes.push(Write::DeleteResource {
            kind: GROUP_KIND.to_owned(),
            key: input.name.clone(),
        });
        self.commit(writes).await?;
        {
            let mut schedules = self.inner.schedules();
            for k in &doomed {
                schedules.remove(k);
            }
        }
        self.inner.groups().remove(&input.name);
        self.remember_delete(input.client_token);
        self.woken();
        Ok(DeleteScheduleGroupOutput {})
    }

    async fn list_schedule_groups(
        &self,
        input: ListScheduleGroupsInput,
    ) -> Result<ListScheduleGroupsOutput, ApiError> {
        let after = cursor(input.next_token.as_deref(), "schedule-groups")?;
        let groups = self.inner.groups();
        let all: Vec<&GroupRecord> = groups
            .values()
            .filter(|g| after.as_deref().is_none_or(|after| g.name.as_str() > after))
            .filter(|g| {
                input
                    .name_prefix
                    .as_deref()
                    .is_none_or(|p| g.name.starts_with(p))
            })
            .collect();
        let size = page_size(input.max_results);
        let page = &all[..size.min(all.len())];
        let next_token = (page.len() < all.len())
            .then(|| page.last())
            .flatten()
            .map(|g| sluice_types::page_token::encode("schedule-groups", g.name.as_bytes()));
        Ok(ListScheduleGroupsOutput {
            next_token,
            schedule_groups: page
                .iter()
                .map(|g| ScheduleGroupSummary {
                    arn: Some(g.arn.clone()),
                    name: Some(g.name.clone()),
                    state: Some(ScheduleGroupState::Active),
                    creation_date: Some(ms_to_seconds(g.created_ms)),
                    last_modification_date: Some(ms_to_seconds(g.modified_ms)),
                })
                .collect(),
        })
    }

    async fn tag_resource(&self, input: TagResourceInput) -> Result<TagResourceOutput, ApiError> {
        self.change_tags(&input.resource_arn, |tags| {
            tags.extend(input.tags.into_iter().map(|tag| (tag.key, tag.value)));
        })
        .await?;
        Ok(TagResourceOutput {})
    }

    async fn untag_resource(
        &self,
        input: UntagResourceInput,
    ) -> Result<UntagResourceOutput, ApiError> {
        self.change_tags(&input.resource_arn, |tags| {
            for key in &input.tag_keys {
                tags.remove(key);
            }
        })
        .await?;
        Ok(UntagResourceOutput {})
    }

    async fn list_tags_for_resource(
        &self,
        input: ListTagsForResourceInput,
    ) -> Result<ListTagsForResourceOutput, ApiError> {
        let group = self.group_by_arn(&input.resource_arn)?;
        Ok(ListTagsForResourceOutput {
            tags: Some(
                group
                    .tags
                    .into_iter()
                    .map(|(key, value)| Tag { key, value })
                    .collect(),
            ),
        })
    }
}

impl<S: Store> SchedulerBackend<S> {
    /// Tags live on schedule groups only, as on AWS.
    /// Changes the tags of the group `arn` names, committed before it is answered.
    async fn change_tags(
        &self,
        arn: &str,
        change: impl FnOnce(&mut BTreeMap<String, String>),
    ) -> Result<(), ApiError> {
        let _changing = self.inner.changes.lock().await;
        let mut group = self.group_by_arn(arn)?;
        change(&mut group.tags);
        group.modified_ms = self.inner.clock.now_ms();
        self.commit(vec![Write::PutResource(group.resource()?)])
            .await?;
        self.inner.groups().insert(group.name.clone(), group);
        Ok(())
    }

    fn group_by_arn(&self, arn: &str) -> Result<GroupRecord, ApiError> {
        self.inner
            .groups()
            .values()
            .find(|g| g.arn == arn)
            .cloned()
            .ok_or_else(|| {
                let name = arn.rsplit('/').next().unwrap_or(arn);
                group_not_found(name)
            })
    }
}

fn page_size(max_results: Option<i32>) -> usize {
    max_results.map_or(PAGE_SIZE, |n| (n.max(1) as usize).min(PAGE_SIZE))
}

fn cursor(token: Option<&str>, kind: &str) -> Result<Option<String>, ApiError> {
    token
        .map(|token| {
            sluice_types::page_token::decode(kind, token)
                .and_then(|cursor| String::from_utf8(cursor).ok())
                .ok_or_else(|| validation("Invalid NextToken."))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(expression: &str) -> ScheduleRecord {
        ScheduleRecord {
            name: "s".into(),
            group: "default".into(),
            arn: "arn:aws:scheduler:us-east-1:000000000000:schedule/default/s".into(),
            description: None,
            expression: expression.into(),
            timezone: None,
            start_date: None,
            end_date: None,
            state: ScheduleState::Enabled,
            kms_key_arn: None,
            target: Target::default(),
            flexible_time_window: FlexibleTimeWindow {
                mode: FlexibleTimeWindowMode::Flexible,
                maximum_window_in_minutes: Some(10),
            },
            action_after_completion: ActionAfterCompletion::None,
            client_token: None,
            created_ms: 0,
            modified_ms: 0,
            anchor_ms: 0,
            next_ms: Some(3_600_000),
        }
    }

    #[test]
    fn a_fire_found_late_happens_once_and_the_next_comes_from_now() {
        let live = Live::compile(record("rate(1 hour)"), Arc::default()).unwrap();
        let hour = 3_600_000;
        // On time: the next period.
        assert_eq!(live.after_fire(hour, hour + 5), Some(2 * hour));
        // Ten hours late (the server was down): one fire now, the next after now.
        assert_eq!(live.after_fire(hour, 11 * hour + 5), Some(12 * hour));
        let cron = Live::compile(record("cron(0 12 * * ? *)"), Arc::default()).unwrap();
        let day = 24 * hour;
        assert_eq!(
            cron.after_fire(12 * hour, 3 * day),
            Some(3 * day + 12 * hour)
        );
        let once = Live::compile(record("at(1970-01-01T01:00:00)"), Arc::default()).unwrap();
        assert_eq!(once.after_fire(hour, 2 * hour), None);
    }

    #[test]
    fn a_flexible_window_spreads_fires_within_it_the_same_way_every_time() {
        let mut record = record("rate(1 hour)");
        let fire = record.fire_ms().unwrap();
        assert!((3_600_000..3_600_000 + 600_000).contains(&fire), "{fire}");
        assert_eq!(record.fire_ms(), Some(fire));
        record.flexible_time_window = FlexibleTimeWindow {
            mode: FlexibleTimeWindowMode::Off,
            maximum_window_in_minutes: None,
        };
        assert_eq!(record.fire_ms(), Some(3_600_000));
    }
}
