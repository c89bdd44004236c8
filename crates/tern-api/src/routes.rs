//! The handlers, their request and response types, and their OpenAPI descriptions.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tern_catalog::{
    BackupFilter, BackupId, BackupKind, BackupRecord, Paging, Position, ReplicationConfig, RestoreId, RestoreJob,
    RestoreTarget, Schedule, ScheduleId, ScheduleSpec,
};
use tern_engine::UserKey;
use tern_service::node::{CopyDestination, RestoreRequest, RestoreSource, SchedulePatch};
use tern_storage::{Backend, Credentials, Location, Secret};
use utoipa::{IntoParams, ToSchema};

use crate::ApiState;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Body, PathId, Query};

// ---- common --------------------------------------------------------------------------------

fn paging(page: Option<u32>, page_size: Option<u32>) -> ApiResult<Paging> {
    let page = page.unwrap_or(1);
    let page_size = page_size.unwrap_or(50);
    if page == 0 {
        return Err(ApiError::invalid("page", "page starts at 1"));
    }
    if !(1..=1000).contains(&page_size) {
        return Err(ApiError::invalid("page_size", format!("page_size must be 1 to 1000 (got {page_size})")));
    }
    Ok(Paging { page, page_size })
}

fn time(field: &str, text: &str) -> ApiResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc)).map_err(|e| {
        ApiError::invalid(field, format!("`{text}` is not an RFC 3339 time (e.g. 2026-11-21T03:00:00Z): {e}"))
    })
}

fn service_name(field: &str, name: &str) -> ApiResult<()> {
    tern_catalog::check_service_name(name).map_err(|e| ApiError::invalid(field, e))
}

/// The node must know the service (404 on a path, 400 in a body or query).
fn known_service(state: &ApiState, field: Option<&str>, name: &str) -> ApiResult<()> {
    match field {
        Some(field) => {
            service_name(field, name)?;
            state.node.service(name).map_err(|e| ApiError::invalid(field, e.to_string()))?;
        }
        None => {
            state.node.service(name).map_err(ApiError::from)?;
        }
    }
    Ok(())
}

fn backup_id(text: &str) -> ApiResult<BackupId> {
    text.parse().map_err(|e: String| ApiError::invalid("id", e))
}

// ---- schedules -----------------------------------------------------------------------------

/// A backup schedule.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleView {
    /// Its id.
    #[schema(value_type = String)]
    pub id: ScheduleId,
    /// The service.
    pub service_id: String,
    /// What it takes.
    pub backup_type: BackupKind,
    /// `once`, or a 5-field cron expression (UTC).
    pub schedule: String,
    /// For `once`: when.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<DateTime<Utc>>,
    /// Whether it runs.
    pub enabled: bool,
    /// When it was made.
    pub created: DateTime<Utc>,
    /// When it is next due (none when disabled or done).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_run: Option<DateTime<Utc>>,
}

fn schedule_view(state: &ApiState, s: Schedule) -> ScheduleView {
    let next_run = state.node.next_run(&s);
    let (schedule, start_time) = match &s.spec {
        ScheduleSpec::Once(at) => ("once".to_owned(), Some(*at)),
        ScheduleSpec::Cron(expr) => (expr.clone(), None),
    };
    ScheduleView {
        id: s.id,
        service_id: s.service,
        backup_type: s.kind,
        schedule,
        start_time,
        enabled: s.enabled,
        created: s.created,
        next_run,
    }
}

/// A new schedule.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSchedule {
    /// The service to back up.
    pub service_id: String,
    /// `full`, `incremental` (needs a prior full), `dump` or `log` (archive closed logs).
    pub backup_type: BackupKind,
    /// `once`, or a 5-field cron expression in UTC (`0 3 * * *`).
    pub schedule: String,
    /// For `once`: when (RFC 3339; now when absent).
    #[serde(default)]
    pub start_time: Option<String>,
}

/// A page of schedules.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleList {
    /// The schedules.
    pub schedules: Vec<ScheduleView>,
    /// Schedules matching, on all pages.
    pub schedules_count: u64,
    /// Pages.
    pub pages_count: u32,
    /// This page.
    pub page: u32,
    /// Page size.
    pub page_size: u32,
}

/// Filters and paging of schedules and restores.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ServicePageQuery {
    /// Only this service's.
    pub service_id: Option<String>,
    /// Page number, from 1.
    #[param(minimum = 1)]
    pub page: Option<u32>,
    /// Items per page, 1 to 1000 (50).
    #[param(minimum = 1, maximum = 1000)]
    pub page_size: Option<u32>,
}

/// A change to a cron schedule.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchSchedule {
    /// A new cron expression.
    #[serde(default)]
    pub schedule: Option<String>,
    /// Enable or disable it.
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// Create a schedule.
#[utoipa::path(post, path = "/v1/backups/schedules", tag = "schedules", request_body = CreateSchedule,
    responses((status = 201, body = ScheduleView), (status = 400, body = ErrorBody)), security(("bearer" = [])))]
pub async fn create_schedule(State(state): State<ApiState>, Body(body): Body<CreateSchedule>) -> ApiResult<Response> {
    known_service(&state, Some("service_id"), &body.service_id)?;
    let spec = if body.schedule == "once" {
        let at = match &body.start_time {
            Some(t) => time("start_time", t)?,
            None => state.node.clock().now(),
        };
        ScheduleSpec::Once(at)
    } else {
        if body.start_time.is_some() {
            return Err(ApiError::invalid(
                "start_time",
                "start_time is for `once` schedules; a cron schedule has none",
            ));
        }
        tern_service::schedule::parse_cron(&body.schedule).map_err(|e| ApiError::invalid("schedule", e))?;
        ScheduleSpec::Cron(body.schedule.clone())
    };
    let created = state.node.create_schedule(&body.service_id, body.backup_type, spec).await.map_err(|e| match e {
        tern_service::Error::Invalid(m) => ApiError::invalid("backup_type", m),
        e => e.into(),
    })?;
    Ok((StatusCode::CREATED, Json(schedule_view(&state, created))).into_response())
}

/// List schedules.
#[utoipa::path(get, path = "/v1/backups/schedules", tag = "schedules", params(ServicePageQuery),
    responses((status = 200, body = ScheduleList), (status = 400, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list_schedules(
    State(state): State<ApiState>,
    Query(q): Query<ServicePageQuery>,
) -> ApiResult<Json<ScheduleList>> {
    if let Some(s) = &q.service_id {
        service_name("service_id", s)?;
    }
    let page = state.node.list_schedules(q.service_id.as_deref(), paging(q.page, q.page_size)?).await?;
    Ok(Json(ScheduleList {
        schedules_count: page.total,
        pages_count: page.pages,
        page: page.page,
        page_size: page.page_size,
        schedules: page.items.into_iter().map(|s| schedule_view(&state, s)).collect(),
    }))
}

fn schedule_id(text: &str) -> ApiResult<ScheduleId> {
    text.parse().map_err(|e: String| ApiError::invalid("id", e))
}

/// One schedule.
#[utoipa::path(get, path = "/v1/backups/schedules/{id}", tag = "schedules", params(("id" = String, Path)),
    responses((status = 200, body = ScheduleView), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_schedule(State(state): State<ApiState>, PathId(id): PathId) -> ApiResult<Json<ScheduleView>> {
    let schedule = state.node.get_schedule(&schedule_id(&id)?).await?;
    Ok(Json(schedule_view(&state, schedule)))
}

/// Change a cron schedule (a `once` schedule cannot be changed).
#[utoipa::path(patch, path = "/v1/backups/schedules/{id}", tag = "schedules", params(("id" = String, Path)),
    request_body = PatchSchedule,
    responses((status = 200, body = ScheduleView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)), security(("bearer" = [])))]
pub async fn patch_schedule(
    State(state): State<ApiState>,
    PathId(id): PathId,
    Body(body): Body<PatchSchedule>,
) -> ApiResult<Json<ScheduleView>> {
    let id = schedule_id(&id)?;
    if let Some(cron) = &body.schedule {
        if cron == "once" {
            return Err(ApiError::invalid("schedule", "a cron schedule cannot become `once`; create a new schedule"));
        }
        tern_service::schedule::parse_cron(cron).map_err(|e| ApiError::invalid("schedule", e))?;
    }
    let patch = SchedulePatch { cron: body.schedule, enabled: body.enabled };
    let updated = state.node.update_schedule(&id, patch).await.map_err(|e| match e {
        tern_service::Error::Conflict(m) if m.contains("runs once") => {
            ApiError { code: "schedule_runs_once", ..ApiError::conflict(m) }
        }
        e => e.into(),
    })?;
    Ok(Json(schedule_view(&state, updated)))
}

/// Delete a schedule.
#[utoipa::path(delete, path = "/v1/backups/schedules/{id}", tag = "schedules", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn delete_schedule(State(state): State<ApiState>, PathId(id): PathId) -> ApiResult<StatusCode> {
    state.node.delete_schedule(&schedule_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- backups -------------------------------------------------------------------------------

/// Filters and paging of backups.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BackupQuery {
    /// Only this service's.
    pub service_id: Option<String>,
    /// Only this kind (`full`, `incremental`, `dump`, `log`).
    #[param(value_type = Option<String>)]
    pub backup_type: Option<BackupKind>,
    /// Only in this state (`scheduled`, `running`, `succeeded`, `failed`).
    pub status: Option<String>,
    /// The region whose repository to list (the primary by default).
    pub region: Option<String>,
    /// Started at or after (RFC 3339).
    pub from: Option<String>,
    /// Started before (RFC 3339).
    pub to: Option<String>,
    /// Page number, from 1.
    #[param(minimum = 1)]
    pub page: Option<u32>,
    /// Items per page, 1 to 1000 (50).
    #[param(minimum = 1, maximum = 1000)]
    pub page_size: Option<u32>,
}

/// A page of backups.
#[derive(Debug, Serialize, ToSchema)]
pub struct BackupList {
    /// The backups, oldest first.
    pub backups: Vec<BackupRecord>,
    /// Backups matching, on all pages.
    pub backups_count: u64,
    /// Pages.
    pub pages_count: u32,
    /// This page.
    pub page: u32,
    /// Page size.
    pub page_size: u32,
}

/// Which region.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RegionQuery {
    /// The region (the primary by default).
    pub region: Option<String>,
}

fn region_exists(state: &ApiState, region: Option<&str>) -> ApiResult<()> {
    state.node.region(region).map(|_| ()).map_err(|e| ApiError::invalid("region", e.to_string()))
}

/// List backups.
#[utoipa::path(get, path = "/v1/backups", tag = "backups", params(BackupQuery),
    responses((status = 200, body = BackupList), (status = 400, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list_backups(State(state): State<ApiState>, Query(q): Query<BackupQuery>) -> ApiResult<Json<BackupList>> {
    if let Some(s) = &q.service_id {
        service_name("service_id", s)?;
    }
    if let Some(s) = &q.status
        && !["scheduled", "running", "succeeded", "failed"].contains(&s.as_str())
    {
        return Err(ApiError::invalid(
            "status",
            format!("`{s}` is not a state (scheduled, running, succeeded, failed)"),
        ));
    }
    region_exists(&state, q.region.as_deref())?;
    let filter = BackupFilter {
        service: q.service_id.clone(),
        kind: q.backup_type,
        status: q.status.clone(),
        from: q.from.as_deref().map(|t| time("from", t)).transpose()?,
        to: q.to.as_deref().map(|t| time("to", t)).transpose()?,
        region: None,
    };
    let page = state.node.list_backups(q.region.as_deref(), filter, paging(q.page, q.page_size)?).await?;
    Ok(Json(BackupList {
        backups_count: page.total,
        pages_count: page.pages,
        page: page.page,
        page_size: page.page_size,
        backups: page.items,
    }))
}

/// One backup.
#[utoipa::path(get, path = "/v1/backups/{id}", tag = "backups", params(("id" = String, Path), RegionQuery),
    responses((status = 200, body = BackupRecord), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_backup(
    State(state): State<ApiState>,
    PathId(id): PathId,
    Query(q): Query<RegionQuery>,
) -> ApiResult<Json<BackupRecord>> {
    let id = backup_id(&id)?;
    region_exists(&state, q.region.as_deref())?;
    Ok(Json(state.node.get_backup(q.region.as_deref(), &id).await?))
}

/// Delete a backup (refused while a kept incremental depends on it; the data goes with the next
/// garbage collection).
#[utoipa::path(delete, path = "/v1/backups/{id}", tag = "backups", params(("id" = String, Path), RegionQuery),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
pub async fn delete_backup(
    State(state): State<ApiState>,
    PathId(id): PathId,
    Query(q): Query<RegionQuery>,
) -> ApiResult<StatusCode> {
    let id = backup_id(&id)?;
    region_exists(&state, q.region.as_deref())?;
    state.node.delete_backup(q.region.as_deref(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How a user's bucket is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BucketMethod {
    /// S3 or compatible; credentials are a base64 AWS credentials file (INI).
    S3,
    /// Google Cloud Storage; credentials are a base64 service-account JSON key.
    Gcs,
}

/// A user's bucket.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExternalBucket {
    /// The location: `s3://bucket/prefix` (options as query parameters, e.g. `?region=…&endpoint=…`)
    /// or `gs://bucket/prefix`.
    pub bucket: String,
    /// How to reach it.
    pub method: BucketMethod,
    /// Base64 credentials (see `method`); never returned.
    #[schema(value_type = String)]
    pub credentials: Secret,
    /// The passphrase of the repository there, when it has other keys; never returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub encryption_key: Option<Secret>,
}

impl ExternalBucket {
    /// The location with its credentials, and the key.
    fn open(&self, at: &str, allow_endpoints: bool) -> ApiResult<(Location, Option<UserKey>)> {
        let field = |f: &str| if at.is_empty() { f.to_owned() } else { format!("{at}.{f}") };
        let location = Location::parse(&self.bucket).map_err(|e| ApiError::invalid(field("bucket"), e.to_string()))?;
        let options = location.options();
        if !allow_endpoints && (options.endpoint.is_some() || options.allow_http == Some(true)) {
            return Err(ApiError::invalid(
                field("bucket"),
                "a user's bucket cannot name its own endpoint or use plain HTTP here (allow_external_endpoints in \
                 tern.toml)",
            ));
        }
        let expected = match self.method {
            BucketMethod::S3 => Backend::S3,
            BucketMethod::Gcs => Backend::Gcs,
        };
        if location.backend() != expected {
            return Err(ApiError::invalid(
                field("bucket"),
                format!(
                    "method {:?} needs a {} location",
                    self.method,
                    if expected == Backend::S3 { "s3://" } else { "gs://" }
                )
                .to_lowercase(),
            ));
        }
        let credentials = match self.method {
            BucketMethod::S3 => Credentials::from_aws_ini_base64(self.credentials.expose()),
            BucketMethod::Gcs => Credentials::from_gcp_service_account_base64(self.credentials.expose()),
        }
        .map_err(|e| ApiError::invalid(field("credentials"), e.to_string()))?;
        let location = location
            .with_credentials(credentials)
            .map_err(|e| ApiError::invalid(field("credentials"), e.to_string()))?;
        let key = self.encryption_key.as_ref().map(|k| UserKey::passphrase(k.expose()));
        Ok((location, key))
    }
}

/// Where to copy a backup: a region, or a user's bucket.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CopyRequest {
    /// A configured region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// A user's bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_destination: Option<ExternalBucket>,
}

/// What a copy did.
#[derive(Debug, Serialize, ToSchema)]
pub struct CopyResult {
    /// `bytes` (same keys) or `reencrypted`.
    pub mode: String,
    /// Backups copied (parents and log backups included).
    #[schema(value_type = Vec<String>)]
    pub copied: Vec<BackupId>,
    /// Backups the destination already had.
    #[schema(value_type = Vec<String>)]
    pub already_present: Vec<BackupId>,
    /// Log segments copied.
    pub segments_copied: u64,
    /// Packs copied.
    pub packs_copied: u64,
    /// Bytes written.
    pub bytes_copied: u64,
}

/// The answer to a copy: what it did, and the request (secrets as `[secret]`).
#[derive(Debug, Serialize, ToSchema)]
pub struct CopyResponse {
    /// What it did.
    pub copy: CopyResult,
    /// The request.
    pub request: CopyRequest,
}

/// Copy a backup, with the parents and logs it needs, to another region or a user's bucket.
#[utoipa::path(post, path = "/v1/backups/{id}/copy", tag = "backups", params(("id" = String, Path)),
    request_body = CopyRequest,
    responses((status = 200, body = CopyResponse), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)), security(("bearer" = [])))]
pub async fn copy_backup(
    State(state): State<ApiState>,
    PathId(id): PathId,
    Body(body): Body<CopyRequest>,
) -> ApiResult<Json<CopyResponse>> {
    let id = backup_id(&id)?;
    let destination = match (&body.region, &body.external_destination) {
        (Some(region), None) => {
            region_exists(&state, Some(region))?;
            CopyDestination::Region(region.clone())
        }
        (None, Some(bucket)) => {
            let (location, key) = bucket.open("external_destination", state.node.allows_external_endpoints())?;
            CopyDestination::External { location, key }
        }
        _ => return Err(ApiError::invalid("region", "give either region or external_destination")),
    };
    let field = if body.region.is_some() { "region" } else { "external_destination.encryption_key" };
    let report = state.node.copy_backup(&id, destination).await.map_err(|e| match e {
        tern_service::Error::Invalid(m) => ApiError::invalid(field, m),
        e => e.into(),
    })?;
    let mode = match report.mode {
        tern_replicator::copy::CopyMode::Bytes => "bytes",
        tern_replicator::copy::CopyMode::Reencrypted => "reencrypted",
    }
    .to_owned();
    Ok(Json(CopyResponse {
        copy: CopyResult {
            mode,
            copied: report.copied,
            already_present: report.already_present,
            segments_copied: report.segments_copied,
            packs_copied: report.packs_copied,
            bytes_copied: report.bytes_copied,
        },
        request: body,
    }))
}

// ---- restores ------------------------------------------------------------------------------

/// A restore: of one backup (`backup_id`), to a point in time (`point_in_time`), to a log
/// position (`position`) or to the latest point (`latest`); from a region (the primary by
/// default) or from a user's bucket (`external_source`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRestore {
    /// The service (optional with `backup_id`; required otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_id: Option<String>,
    /// Restore exactly this backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_id: Option<String>,
    /// Restore to this time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub point_in_time: Option<String>,
    /// Restore to this log position (`mariadb:FILE:OFFSET`, `postgres:TIMELINE:X/Y`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<String>,
    /// Restore to the latest recoverable point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest: Option<bool>,
    /// The region to restore from (the primary by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// A user's bucket to restore from instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_source: Option<ExternalBucket>,
}

/// A started restore, and the request (secrets as `[secret]`).
#[derive(Debug, Serialize, ToSchema)]
pub struct RestoreCreated {
    /// The job.
    pub restore: RestoreJob,
    /// The request.
    pub request: CreateRestore,
}

/// A page of restores.
#[derive(Debug, Serialize, ToSchema)]
pub struct RestoreList {
    /// The jobs, oldest first.
    pub restores: Vec<RestoreJob>,
    /// Jobs matching, on all pages.
    pub restores_count: u64,
    /// Pages.
    pub pages_count: u32,
    /// This page.
    pub page: u32,
    /// Page size.
    pub page_size: u32,
}

/// Start a restore (planned first: a target that cannot be reached is refused with the
/// planner's reason).
#[utoipa::path(post, path = "/v1/restores", tag = "restores", request_body = CreateRestore,
    responses((status = 202, body = RestoreCreated), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn create_restore(State(state): State<ApiState>, Body(body): Body<CreateRestore>) -> ApiResult<Response> {
    let targets =
        [body.backup_id.is_some(), body.point_in_time.is_some(), body.position.is_some(), body.latest == Some(true)];
    if targets.iter().filter(|t| **t).count() != 1 {
        return Err(ApiError::invalid(
            "point_in_time",
            "give exactly one of backup_id, point_in_time, position or latest: true",
        ));
    }
    let target = if let Some(id) = &body.backup_id {
        RestoreTarget::Backup(id.parse().map_err(|e: String| ApiError::invalid("backup_id", e))?)
    } else if let Some(t) = &body.point_in_time {
        RestoreTarget::Time(time("point_in_time", t)?)
    } else if let Some(p) = &body.position {
        RestoreTarget::Position(Position::parse(p).map_err(|e| ApiError::invalid("position", e))?)
    } else {
        RestoreTarget::Latest
    };
    let source = match (&body.region, &body.external_source) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid("external_source", "give region or external_source, not both"));
        }
        (_, Some(bucket)) => {
            let (location, key) = bucket.open("external_source", state.node.allows_external_endpoints())?;
            RestoreSource::External { location, key }
        }
        (region, None) => {
            region_exists(&state, region.as_deref())?;
            RestoreSource::Region(region.clone())
        }
    };
    let service = match (&body.service_id, &target, &source) {
        (Some(s), _, _) => {
            service_name("service_id", s)?;
            s.clone()
        }
        (None, RestoreTarget::Backup(id), RestoreSource::Region(region)) => {
            state.node.get_backup(region.as_deref(), id).await?.service
        }
        _ => {
            return Err(ApiError::invalid(
                "service_id",
                "service_id is required unless restoring a backup_id from a region",
            ));
        }
    };
    // The service need not be configured: a decommissioned service restores from its backups
    // (and one with none is refused by the planner, naming why).
    let job = state.node.start_restore(RestoreRequest { service, target, source }).await.map_err(|e| match e {
        tern_service::Error::Invalid(m) if m.contains("external source") => ApiError::invalid("external_source", m),
        tern_service::Error::Db(e) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "cannot_plan", e.to_string()),
        e => e.into(),
    })?;
    Ok((StatusCode::ACCEPTED, Json(RestoreCreated { restore: job, request: body })).into_response())
}

/// List restores.
#[utoipa::path(get, path = "/v1/restores", tag = "restores", params(ServicePageQuery),
    responses((status = 200, body = RestoreList), (status = 400, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list_restores(
    State(state): State<ApiState>,
    Query(q): Query<ServicePageQuery>,
) -> ApiResult<Json<RestoreList>> {
    if let Some(s) = &q.service_id {
        service_name("service_id", s)?;
    }
    let page = state.node.list_restores(q.service_id.as_deref(), paging(q.page, q.page_size)?).await?;
    Ok(Json(RestoreList {
        restores_count: page.total,
        pages_count: page.pages,
        page: page.page,
        page_size: page.page_size,
        restores: page.items,
    }))
}

fn restore_id(text: &str) -> ApiResult<RestoreId> {
    text.parse().map_err(|e: String| ApiError::invalid("id", e))
}

/// One restore.
#[utoipa::path(get, path = "/v1/restores/{id}", tag = "restores", params(("id" = String, Path)),
    responses((status = 200, body = RestoreJob), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_restore(State(state): State<ApiState>, PathId(id): PathId) -> ApiResult<Json<RestoreJob>> {
    Ok(Json(state.node.get_restore(&restore_id(&id)?).await?))
}

/// Cancel a restore that has not finished (its partial directory is removed), or forget one
/// that has (the restored directory stays).
#[utoipa::path(delete, path = "/v1/restores/{id}", tag = "restores", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
pub async fn delete_restore(State(state): State<ApiState>, PathId(id): PathId) -> ApiResult<StatusCode> {
    state.node.delete_restore(&restore_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- services ------------------------------------------------------------------------------

/// A time interval a restore can reach.
#[derive(Debug, Serialize, ToSchema)]
pub struct WindowView {
    /// The earliest point.
    pub start: DateTime<Utc>,
    /// The latest point.
    pub end: DateTime<Utc>,
    /// The log position at `start`.
    pub start_position: Position,
    /// The log position at `end`.
    pub end_position: Position,
    /// The backups a restore into it can start from.
    #[schema(value_type = Vec<String>)]
    pub base_ids: Vec<BackupId>,
}

/// The windows of one region.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegionWindowsView {
    /// The region.
    pub region: String,
    /// Whether it is the primary.
    pub primary: bool,
    /// Its windows, oldest first.
    pub windows: Vec<WindowView>,
}

/// Recovery windows of a service in every region.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryWindows {
    /// The service.
    pub service_id: String,
    /// Per region.
    pub regions: Vec<RegionWindowsView>,
}

/// Recovery windows of a service, per region.
#[utoipa::path(get, path = "/v1/services/{id}/recovery-windows", tag = "services", params(("id" = String, Path)),
    responses((status = 200, body = RecoveryWindows), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn recovery_windows(State(state): State<ApiState>, PathId(id): PathId) -> ApiResult<Json<RecoveryWindows>> {
    known_service(&state, None, &id)?;
    let regions = state.node.recovery_windows(&id).await?;
    Ok(Json(RecoveryWindows {
        service_id: id,
        regions: regions
            .into_iter()
            .map(|r| RegionWindowsView {
                region: r.region,
                primary: r.primary,
                windows: r
                    .windows
                    .into_iter()
                    .map(|w| WindowView {
                        start: w.start,
                        end: w.end,
                        start_position: w.start_position,
                        end_position: w.end_position,
                        base_ids: w.base_ids,
                    })
                    .collect(),
            })
            .collect(),
    }))
}

/// Replication settings of a service.
#[utoipa::path(get, path = "/v1/services/{id}/replication", tag = "services", params(("id" = String, Path)),
    responses((status = 200, body = ReplicationConfig), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_replication(State(state): State<ApiState>, PathId(id): PathId) -> ApiResult<Json<ReplicationConfig>> {
    known_service(&state, None, &id)?;
    Ok(Json(state.node.replication(&id).await?))
}

/// New replication settings.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutReplication {
    /// Secondary regions (configured, not the primary).
    pub secondaries: Vec<String>,
    /// Whether it runs.
    pub enabled: bool,
    /// Paused, with this reason.
    #[serde(default)]
    pub paused_reason: Option<String>,
}

/// Replace the replication settings of a service.
#[utoipa::path(put, path = "/v1/services/{id}/replication", tag = "services", params(("id" = String, Path)),
    request_body = PutReplication,
    responses((status = 200, body = ReplicationConfig), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_replication(
    State(state): State<ApiState>,
    PathId(id): PathId,
    Body(body): Body<PutReplication>,
) -> ApiResult<Json<ReplicationConfig>> {
    known_service(&state, None, &id)?;
    for (i, region) in body.secondaries.iter().enumerate() {
        if region == state.node.primary_region() || state.node.region(Some(region)).is_err() {
            return Err(ApiError::invalid(
                format!("secondaries[{i}]"),
                format!("`{region}` is not a configured secondary region"),
            ));
        }
    }
    if body.paused_reason.as_deref().is_some_and(|r| r.trim().is_empty()) {
        return Err(ApiError::invalid("paused_reason", "a pause needs a reason"));
    }
    Ok(Json(state.node.set_replication(&id, body.secondaries, body.enabled, body.paused_reason).await?))
}

/// How far back a lag report looks.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PeriodArg {
    /// The last hour.
    Hour,
    /// The last day.
    Day,
    /// The last 7 days.
    Week,
    /// The last 30 days.
    Month,
    /// The last 365 days.
    Year,
}

impl From<PeriodArg> for tern_replicator::lag::Period {
    fn from(p: PeriodArg) -> Self {
        match p {
            PeriodArg::Hour => Self::Hour,
            PeriodArg::Day => Self::Day,
            PeriodArg::Week => Self::Week,
            PeriodArg::Month => Self::Month,
            PeriodArg::Year => Self::Year,
        }
    }
}

/// A lag report request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportRequest {
    /// `hour`, `day`, `week`, `month` or `year`.
    pub period: PeriodArg,
}

/// One lag measurement.
#[derive(Debug, Serialize, ToSchema)]
pub struct LagPoint {
    /// When.
    pub time: DateTime<Utc>,
    /// How far the secondary's recovery window ends behind the primary's, in seconds.
    pub lag_secs: f64,
    /// Bytes not copied yet.
    pub pending_bytes: u64,
    /// Backups not copied yet.
    pub pending_objects: u64,
}

/// The lag of one secondary region.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegionLag {
    /// The region.
    pub region: String,
    /// The latest measurement.
    pub current: Option<LagPoint>,
    /// Measurements over the period (at most 60 points, each its bucket's worst).
    pub series: Vec<LagPoint>,
}

/// A lag report.
#[derive(Debug, Serialize, ToSchema)]
pub struct LagReportView {
    /// The service.
    pub service_id: String,
    /// The period.
    pub period: PeriodArg,
    /// Per secondary region.
    pub regions: Vec<RegionLag>,
}

#[allow(clippy::needless_pass_by_value)] // used as a map over owned samples
fn lag_point(s: tern_replicator::lag::LagSample) -> LagPoint {
    LagPoint { time: s.time, lag_secs: s.lag_secs, pending_bytes: s.pending_bytes, pending_objects: s.pending_objects }
}

/// Replication lag of a service over a period.
#[utoipa::path(post, path = "/v1/services/{id}/backup_to_another_region/report", tag = "services",
    params(("id" = String, Path)), request_body = ReportRequest,
    responses((status = 200, body = LagReportView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn lag_report(
    State(state): State<ApiState>,
    PathId(id): PathId,
    Body(body): Body<ReportRequest>,
) -> ApiResult<Json<LagReportView>> {
    known_service(&state, None, &id)?;
    let reports = state.node.lag_report(&id, body.period.into()).await?;
    Ok(Json(LagReportView {
        service_id: id,
        period: body.period,
        regions: reports
            .into_iter()
            .map(|(region, r)| RegionLag {
                region,
                current: r.current.map(lag_point),
                series: r.series.into_iter().map(lag_point).collect(),
            })
            .collect(),
    }))
}

// ---- system --------------------------------------------------------------------------------

/// Liveness.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
}

/// The process is up.
#[utoipa::path(get, path = "/health", tag = "system", responses((status = 200, body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health { status: "ok".into() })
}

/// Ready: the primary repository answers.
#[utoipa::path(get, path = "/ready", tag = "system",
    responses((status = 200, body = Health), (status = 503, body = ErrorBody)))]
pub async fn ready(State(state): State<ApiState>) -> ApiResult<Json<Health>> {
    use object_store::ObjectStoreExt as _;
    state.node.primary().store().head(&object_store::path::Path::from("tern.json")).await.map_err(|e| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_unavailable",
            format!("the primary repository does not answer: {e}"),
        )
    })?;
    Ok(Json(Health { status: "ready".into() }))
}

/// Prometheus metrics (text exposition format).
#[utoipa::path(get, path = "/metrics", tag = "system",
    responses((status = 200, content_type = "application/openmetrics-text", body = String)), security(("bearer" = [])))]
pub async fn metrics(State(state): State<ApiState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
        state.node.metrics().encode(),
    )
        .into_response()
}
