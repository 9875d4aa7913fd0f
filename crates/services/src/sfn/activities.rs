//! CreateActivity, DescribeActivity, DeleteActivity, ListActivities, GetActivityTask, and the
//! tags of activities (TagResource and kin take activity ARNs too), as AWS answers them:
//! CreateActivity is idempotent by name (a second call returns the first activity, tags
//! unchanged), deleting twice is fine, an unknown activity is `ActivityDoesNotExist`.
//! GetActivityTask long-polls for up to a minute and answers without a task token when none
//! came; the task it hands out is its execution's (`ActivityStarted` is recorded first), and
//! the worker ends it with SendTaskSuccess/SendTaskFailure/SendTaskHeartbeat.
//!
//! A child module of `backend` (declared there).

use sluice_api::ApiError;
use sluice_api::sfn::arn::{Arn, Resource, ResourceType, StatesArns as _};
use std::time::Duration;

use sluice_api::sfn::model::{
    ActivityListItem, CreateActivityInput, CreateActivityOutput, DeleteActivityInput,
    DeleteActivityOutput, DescribeActivityInput, DescribeActivityOutput, EncryptionConfiguration,
    EncryptionType, GetActivityTaskInput, GetActivityTaskOutput, ListActivitiesInput,
    ListActivitiesOutput,
};
use sluice_api::sfn::name::validate_name;
use sluice_api::sfn::pagination::Page;
use sluice_engine::Dispatch;
use sluice_store::{ActivityRecord, Store, Write};

use super::callbacks::callback_error;
use super::{Backend, secs, store_error, tags};

/// How long GetActivityTask waits for a task, as on AWS.
const POLL: Duration = Duration::from_secs(60);

impl<S: Store, D: Dispatch> Backend<S, D> {
    /// The activity `arn` names (`InvalidArn` for another kind of ARN).
    pub(super) async fn activity(&self, arn: &str) -> Result<ActivityRecord, ApiError> {
        Arn::parse_as(arn, &[ResourceType::Activity])?;
        self.store()
            .activity(arn)
            .await
            .map_err(store_error)?
            .ok_or_else(|| ApiError::activity_does_not_exist(arn))
    }

    pub(super) async fn create_activity_record(
        &self,
        input: CreateActivityInput,
    ) -> Result<CreateActivityOutput, ApiError> {
        let requested_tags = tags::requested(input.tags)?;
        validate_name(&input.name)?;
        if let Some(EncryptionConfiguration {
            r#type: EncryptionType::CustomerManagedKmsKey,
            ..
        }) = input.encryption_configuration
        {
            return Err(ApiError::validation(
                "encryptionConfiguration: CUSTOMER_MANAGED_KMS_KEY needs AWS KMS, which Sluice \
                 does not have; use AWS_OWNED_KEY or leave it out",
            ));
        }
        let arn = self.scope().activity_arn(&input.name);
        tags::check_count(&requested_tags, &arn)?;
        let _guard = self.machines.lock().await;
        if let Some(existing) = self.store().activity(&arn).await.map_err(store_error)? {
            return Ok(CreateActivityOutput {
                activity_arn: existing.arn,
                creation_date: secs(existing.created_ms),
            });
        }
        let record = ActivityRecord {
            arn,
            name: input.name,
            created_ms: self.now_ms(),
            tags: requested_tags,
        };
        self.store()
            .commit(vec![Write::PutActivity(record.clone())])
            .await
            .map_err(store_error)?;
        Ok(CreateActivityOutput {
            activity_arn: record.arn,
            creation_date: secs(record.created_ms),
        })
    }

    pub(super) async fn describe_activity_record(
        &self,
        input: DescribeActivityInput,
    ) -> Result<DescribeActivityOutput, ApiError> {
        let activity = self.activity(&input.activity_arn).await?;
        Ok(DescribeActivityOutput {
            activity_arn: activity.arn,
            name: activity.name,
            creation_date: secs(activity.created_ms),
            encryption_configuration: Some(EncryptionConfiguration {
                r#type: EncryptionType::AwsOwnedKey,
                ..EncryptionConfiguration::default()
            }),
        })
    }

    pub(super) async fn delete_activity_record(
        &self,
        input: DeleteActivityInput,
    ) -> Result<DeleteActivityOutput, ApiError> {
        Arn::parse_as(&input.activity_arn, &[ResourceType::Activity])?;
        let _guard = self.machines.lock().await;
        self.engine.forget_activity(&input.activity_arn);
        self.store()
            .commit(vec![Write::DeleteActivity {
                arn: input.activity_arn,
            }])
            .await
            .map_err(store_error)?;
        Ok(DeleteActivityOutput {})
    }

    pub(super) async fn poll_activity_task(
        &self,
        input: GetActivityTaskInput,
    ) -> Result<GetActivityTaskOutput, ApiError> {
        let activity = self.activity(&input.activity_arn).await?;
        let task = self
            .engine
            .get_activity_task(&activity.arn, input.worker_name, POLL)
            .await
            .map_err(callback_error)?;
        Ok(match task {
            Some(task) => GetActivityTaskOutput {
                task_token: Some(task.token),
                input: Some(task.input),
            },
            None => GetActivityTaskOutput::default(),
        })
    }

    pub(super) async fn list_activity_records(
        &self,
        input: ListActivitiesInput,
    ) -> Result<ListActivitiesOutput, ApiError> {
        let page = Page::from_request(input.next_token.as_deref(), input.max_results)?;
        // Activities are regional: the signed region's only.
        let prefix = self.scope().activity_arn("");
        let mut activities = self.store().activities().await.map_err(store_error)?;
        activities.retain(|a| a.arn.starts_with(&prefix));
        let (items, next_token) = page.take(activities, |a| format!("{}|{}", a.name, a.arn));
        Ok(ListActivitiesOutput {
            activities: items
                .into_iter()
                .map(|a| ActivityListItem {
                    activity_arn: a.arn,
                    name: a.name,
                    creation_date: secs(a.created_ms),
                })
                .collect(),
            next_token,
        })
    }

    /// TagResource, UntagResource and ListTagsForResource on an activity: `Some` when `arn`
    /// is an activity ARN (its tags after `change`), `None` for any other ARN.
    pub(super) async fn activity_tags(
        &self,
        arn: &str,
        change: impl FnOnce(&mut Vec<(String, String)>),
    ) -> Result<Option<Vec<(String, String)>>, ApiError> {
        if !matches!(
            Arn::parse(arn).map(|a| a.resource),
            Ok(Resource::Activity { .. })
        ) {
            return Ok(None);
        }
        let _guard = self.machines.lock().await;
        let mut activity = self
            .store()
            .activity(arn)
            .await
            .map_err(store_error)?
            .ok_or_else(|| ApiError::tagged_resource_not_found(arn))?;
        let before = activity.tags.clone();
        change(&mut activity.tags);
        tags::check_count(&activity.tags, arn)?;
        if activity.tags != before {
            self.store()
                .commit(vec![Write::PutActivity(activity.clone())])
                .await
                .map_err(store_error)?;
        }
        Ok(Some(activity.tags))
    }
}
