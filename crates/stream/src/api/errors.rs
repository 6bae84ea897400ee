//! The `error` object of every `$JS.API` response, with nats-server's codes.
//!
//! Wire form (inside a response, after its `type`):
//! `{"code":404,"err_code":10059,"description":"stream not found"}`. `code` is an HTTP-like
//! status, `err_code` the stable JetStream error number clients switch on, `description` the
//! text. Every constructor below carries the `code`, `err_code` and description template of the
//! nats-server `server/errors.json` entry named in its doc (checked against v2.9.10, v2.10.29 and
//! v2.11.17, whose codes agree; where the text changed, the version followed is stated).
//! Templated entries (`{err}`, `{seq}`, ...) take the substituted value as an argument.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An API error as nats-server sends it.
///
/// `err_code` and `description` are `omitempty` in Go; they are always set by the constructors
/// here, and skipped when zero/empty so a decoded foreign error re-encodes the same.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ApiError {
    pub code: u16,
    #[serde(default, skip_serializing_if = "is_zero_u16")]
    pub err_code: u16,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

fn is_zero_u16(v: &u16) -> bool {
    *v == 0
}

impl fmt::Display for ApiError {
    /// As Go's `ApiError.Error()`: `description (err_code)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.description, self.err_code)
    }
}

impl std::error::Error for ApiError {}

/// Defines constructors for fixed-text errors.
macro_rules! fixed {
    ($( $(#[$doc:meta])* $name:ident => ($code:expr, $err:expr, $text:expr); )*) => {
        $(
            $(#[$doc])*
            pub fn $name() -> ApiError {
                ApiError::new($code, $err, $text)
            }
        )*
    };
}

/// Defines constructors for `'{err}'`-only templates: the description is the argument.
macro_rules! wrapping {
    ($( $(#[$doc:meta])* $name:ident => ($code:expr, $err:expr); )*) => {
        $(
            $(#[$doc])*
            pub fn $name(err: impl fmt::Display) -> ApiError {
                ApiError::new($code, $err, err.to_string())
            }
        )*
    };
}

/// `err_code` numbers, named after nats-server's `ErrorIdentifier` constants.
pub mod codes {
    pub const ACCOUNT_RESOURCES_EXCEEDED: u16 = 10002;
    pub const BAD_REQUEST: u16 = 10003;
    pub const CLUSTER_NO_PEERS: u16 = 10005;
    pub const CLUSTER_NOT_AVAIL: u16 = 10008;
    pub const CLUSTER_NOT_LEADER: u16 = 10009;
    pub const CLUSTER_REQUIRED: u16 = 10010;
    pub const CLUSTER_TAGS: u16 = 10011;
    pub const CLUSTER_PEER_NOT_MEMBER: u16 = 10040;
    pub const CLUSTER_SERVER_NOT_MEMBER: u16 = 10044;
    pub const PEER_REMAP: u16 = 10075;
    pub const CONSUMER_NOT_FOUND: u16 = 10014;
    pub const INSUFFICIENT_RESOURCES: u16 = 10023;
    pub const INVALID_JSON: u16 = 10025;
    pub const MAXIMUM_CONSUMERS_LIMIT: u16 = 10026;
    pub const MAXIMUM_STREAMS_LIMIT: u16 = 10027;
    pub const MEMORY_RESOURCES_EXCEEDED: u16 = 10028;
    pub const MIRROR_WITH_SOURCES: u16 = 10031;
    pub const MIRROR_WITH_SUBJECTS: u16 = 10034;
    pub const NO_MESSAGE_FOUND: u16 = 10037;
    pub const NOT_EMPTY_REQUEST: u16 = 10038;
    pub const NOT_ENABLED_FOR_ACCOUNT: u16 = 10039;
    pub const SEQUENCE_NOT_FOUND: u16 = 10043;
    pub const STORAGE_RESOURCES_EXCEEDED: u16 = 10047;
    pub const STREAM_CREATE: u16 = 10049;
    pub const STREAM_DELETE: u16 = 10050;
    pub const STREAM_GENERAL: u16 = 10051;
    pub const STREAM_INVALID_CONFIG: u16 = 10052;
    pub const STREAM_LIMITS: u16 = 10053;
    pub const STREAM_MESSAGE_EXCEEDS_MAXIMUM: u16 = 10054;
    pub const STREAM_MIRROR_NOT_UPDATABLE: u16 = 10055;
    pub const STREAM_MISMATCH: u16 = 10056;
    pub const STREAM_MSG_DELETE_FAILED: u16 = 10057;
    pub const STREAM_NAME_EXIST: u16 = 10058;
    pub const STREAM_NOT_FOUND: u16 = 10059;
    pub const STREAM_NOT_MATCH: u16 = 10060;
    pub const STREAM_REPLICAS_NOT_UPDATABLE: u16 = 10061;
    pub const STREAM_SEQUENCE_NOT_MATCH: u16 = 10063;
    pub const STREAM_SUBJECT_OVERLAP: u16 = 10065;
    pub const STREAM_UPDATE: u16 = 10069;
    pub const STREAM_WRONG_LAST_MSG_ID: u16 = 10070;
    pub const STREAM_WRONG_LAST_SEQUENCE: u16 = 10071;
    pub const STREAM_REPLICAS_NOT_SUPPORTED: u16 = 10074;
    pub const NOT_ENABLED: u16 = 10076;
    pub const STREAM_STORE_FAILED: u16 = 10077;
    pub const STREAM_INVALID: u16 = 10096;
    pub const STREAM_HEADER_EXCEEDS_MAXIMUM: u16 = 10097;
    pub const STREAM_SEALED: u16 = 10109;
    pub const STREAM_PURGE_FAILED: u16 = 10110;
    pub const STREAM_ROLLUP_FAILED: u16 = 10111;
    pub const STREAM_MAX_BYTES_REQUIRED: u16 = 10113;
    pub const STREAM_INFO_MAX_SUBJECTS: u16 = 10117;
    pub const STREAM_MAX_STREAM_BYTES_EXCEEDED: u16 = 10122;
    pub const STREAM_NAME_CONTAINS_PATH_SEPARATORS: u16 = 10128;
    pub const REPLICAS_COUNT_CANNOT_BE_NEGATIVE: u16 = 10133;
    pub const SOURCE_DUPLICATE_DETECTED: u16 = 10140;
    pub const SOURCE_INVALID_STREAM_NAME: u16 = 10141;
    pub const MIRROR_INVALID_STREAM_NAME: u16 = 10142;
    pub const MIRROR_WITH_FIRST_SEQ: u16 = 10143;
    pub const STREAM_TRANSFORM_INVALID_SOURCE: u16 = 10155;
    pub const STREAM_TRANSFORM_INVALID_DESTINATION: u16 = 10156;
    pub const STREAM_DUPLICATE_MESSAGE_CONFLICT: u16 = 10158;
    pub const STREAM_WRONG_LAST_SEQUENCE_CONSTANT: u16 = 10164;
    pub const MESSAGE_TTL_INVALID: u16 = 10165;
    pub const MESSAGE_TTL_DISABLED: u16 = 10166;
}

use codes::*;

impl ApiError {
    /// Any error, by its parts.
    pub fn new(code: u16, err_code: u16, description: impl Into<String>) -> Self {
        ApiError {
            code,
            err_code,
            description: description.into(),
        }
    }

    /// True if this is the error with `err_code` (what clients compare).
    pub fn is(&self, err_code: u16) -> bool {
        self.err_code == err_code
    }

    fixed! {
        /// JSAccountResourcesExceededErr: 400 10002.
        account_resources_exceeded => (400, ACCOUNT_RESOURCES_EXCEEDED, "resource limits exceeded for account");
        /// JSBadRequestErr: 400 10003 (e.g. MSG.GET with both `seq` and `last_by_subj`, or an
        /// empty MSG.GET/MSG.DELETE body; PURGE with both `seq` and `keep`; a `$JS.API`
        /// subject no endpoint serves, in a `system_response`).
        bad_request => (400, BAD_REQUEST, "bad request");
        /// JSClusterRequiredErr: 503 10010 (leader stepdown and peer removal on a single
        /// server).
        cluster_required => (503, CLUSTER_REQUIRED, "JetStream clustering support required");
        /// JSClusterNotAvailErr: 503 10008 (no meta or stream leader, no quorum).
        cluster_not_avail => (503, CLUSTER_NOT_AVAIL, "JetStream system temporarily unavailable");
        /// JSClusterNotLeaderErr: 500 10009.
        cluster_not_leader => (500, CLUSTER_NOT_LEADER, "JetStream cluster can not handle request");
        /// JSClusterTagsErr: 400 10011.
        cluster_tags => (400, CLUSTER_TAGS, "tags placement not supported for operation");
        /// JSClusterPeerNotMemberErr: 400 10040.
        cluster_peer_not_member => (400, CLUSTER_PEER_NOT_MEMBER, "peer not a member");
        /// JSClusterServerNotMemberErr: 400 10044 (SERVER.REMOVE of a server not in the group).
        cluster_server_not_member => (400, CLUSTER_SERVER_NOT_MEMBER, "server is not a member of the cluster");
        /// JSConsumerNotFoundErr: 404 10014.
        consumer_not_found => (404, CONSUMER_NOT_FOUND, "consumer not found");
        /// JSInsufficientResourcesErr: 503 10023.
        insufficient_resources => (503, INSUFFICIENT_RESOURCES, "insufficient resources");
        /// JSInvalidJSONErr: 400 10025. v2.9/v2.10 text (v2.11 appends `: {err}`).
        invalid_json => (400, INVALID_JSON, "invalid JSON");
        /// JSMaximumConsumersLimitErr: 400 10026.
        maximum_consumers_limit => (400, MAXIMUM_CONSUMERS_LIMIT, "maximum consumers limit reached");
        /// JSMaximumStreamsLimitErr: 400 10027.
        maximum_streams_limit => (400, MAXIMUM_STREAMS_LIMIT, "maximum number of streams reached");
        /// JSMemoryResourcesExceededErr: 500 10028.
        memory_resources_exceeded => (500, MEMORY_RESOURCES_EXCEEDED, "insufficient memory resources available");
        /// JSMirrorWithSourcesErr: 400 10031.
        mirror_with_sources => (400, MIRROR_WITH_SOURCES, "stream mirrors can not also contain other sources");
        /// JSMirrorWithSubjectsErr: 400 10034.
        mirror_with_subjects => (400, MIRROR_WITH_SUBJECTS, "stream mirrors can not contain subjects");
        /// JSNoMessageFoundErr: 404 10037 (STREAM.MSG.GET of a missing message).
        no_message_found => (404, NO_MESSAGE_FOUND, "no message found");
        /// JSNotEmptyRequestErr: 400 10038.
        not_empty_request => (400, NOT_EMPTY_REQUEST, "expected an empty request payload");
        /// JSNotEnabledForAccountErr: 503 10039.
        not_enabled_for_account => (503, NOT_ENABLED_FOR_ACCOUNT, "JetStream not enabled for account");
        /// JSStorageResourcesExceededErr: 500 10047.
        storage_resources_exceeded => (500, STORAGE_RESOURCES_EXCEEDED, "insufficient storage resources available");
        /// JSStreamMessageExceedsMaximumErr: 400 10054 (publish larger than `max_msg_size`).
        stream_message_exceeds_maximum => (400, STREAM_MESSAGE_EXCEEDS_MAXIMUM, "message size exceeds maximum allowed");
        /// JSStreamMirrorNotUpdatableErr: 400 10055.
        stream_mirror_not_updatable => (400, STREAM_MIRROR_NOT_UPDATABLE, "stream mirror configuration can not be updated");
        /// JSStreamMismatchErr: 400 10056 (name in the API subject differs from the body's).
        stream_mismatch => (400, STREAM_MISMATCH, "stream name in subject does not match request");
        /// JSStreamNameExistErr: 400 10058 (create with a different config).
        stream_name_exist => (400, STREAM_NAME_EXIST, "stream name already in use with a different configuration");
        /// JSStreamNotFoundErr: 404 10059.
        stream_not_found => (404, STREAM_NOT_FOUND, "stream not found");
        /// JSStreamNotMatchErr: 400 10060 (publish with a wrong `Nats-Expected-Stream`).
        stream_not_match => (400, STREAM_NOT_MATCH, "expected stream does not match");
        /// JSStreamReplicasNotUpdatableErr: 400 10061.
        stream_replicas_not_updatable => (400, STREAM_REPLICAS_NOT_UPDATABLE, "Replicas configuration can not be updated");
        /// JSStreamSequenceNotMatchErr: 503 10063.
        stream_sequence_not_match => (503, STREAM_SEQUENCE_NOT_MATCH, "expected stream sequence does not match");
        /// JSStreamSubjectOverlapErr: 400 10065 (subjects collide with another stream's).
        stream_subject_overlap => (400, STREAM_SUBJECT_OVERLAP, "subjects overlap with an existing stream");
        /// JSStreamReplicasNotSupportedErr: 500 10074 (num_replicas > 1 on a single server).
        stream_replicas_not_supported => (500, STREAM_REPLICAS_NOT_SUPPORTED, "replicas > 1 not supported in non-clustered mode");
        /// JSNotEnabledErr: 503 10076.
        not_enabled => (503, NOT_ENABLED, "JetStream not enabled");
        /// JSStreamInvalidErr: 500 10096.
        stream_invalid => (500, STREAM_INVALID, "stream not valid");
        /// JSStreamHeaderExceedsMaximumErr: 400 10097 (header block over 64 KiB).
        stream_header_exceeds_maximum => (400, STREAM_HEADER_EXCEEDS_MAXIMUM, "header size exceeds maximum allowed of 64k");
        /// JSStreamSealedErr: 400 10109 (publish, delete or purge on a sealed stream).
        stream_sealed => (400, STREAM_SEALED, "invalid operation on sealed stream");
        /// JSStreamMaxBytesRequired: 400 10113.
        stream_max_bytes_required => (400, STREAM_MAX_BYTES_REQUIRED, "account requires a stream config to have max bytes set");
        /// JSStreamInfoMaxSubjectsErr: 500 10117.
        stream_info_max_subjects => (500, STREAM_INFO_MAX_SUBJECTS, "subject details would exceed maximum allowed");
        /// JSStreamMaxStreamBytesExceeded: 400 10122.
        stream_max_stream_bytes_exceeded => (400, STREAM_MAX_STREAM_BYTES_EXCEEDED, "stream max bytes exceeds account limit max stream bytes");
        /// JSStreamNameContainsPathSeparatorsErr: 400 10128 (`/` or `\` in a create's name).
        stream_name_contains_path_separators => (400, STREAM_NAME_CONTAINS_PATH_SEPARATORS, "Stream name can not contain path separators");
        /// JSReplicasCountCannotBeNegative: 400 10133.
        replicas_count_cannot_be_negative => (400, REPLICAS_COUNT_CANNOT_BE_NEGATIVE, "replicas count cannot be negative");
        /// JSSourceDuplicateDetected: 400 10140.
        source_duplicate_detected => (400, SOURCE_DUPLICATE_DETECTED, "duplicate source configuration detected");
        /// JSSourceInvalidStreamName: 400 10141.
        source_invalid_stream_name => (400, SOURCE_INVALID_STREAM_NAME, "sourced stream name is invalid");
        /// JSMirrorInvalidStreamName: 400 10142.
        mirror_invalid_stream_name => (400, MIRROR_INVALID_STREAM_NAME, "mirrored stream name is invalid");
        /// JSMirrorWithFirstSeqErr: 400 10143.
        mirror_with_first_seq => (400, MIRROR_WITH_FIRST_SEQ, "stream mirrors can not have first sequence configured");
        /// JSStreamDuplicateMessageConflict: 409 10158 (v2.11).
        stream_duplicate_message_conflict => (409, STREAM_DUPLICATE_MESSAGE_CONFLICT, "duplicate message id is in process");
        /// JSStreamWrongLastSequenceConstantErr: 400 10164 (v2.11).
        stream_wrong_last_sequence_constant => (400, STREAM_WRONG_LAST_SEQUENCE_CONSTANT, "wrong last sequence");
        /// JSMessageTTLInvalidErr: 400 10165 (v2.11).
        message_ttl_invalid => (400, MESSAGE_TTL_INVALID, "invalid per-message TTL");
        /// JSMessageTTLDisabledErr: 400 10166 (v2.11).
        message_ttl_disabled => (400, MESSAGE_TTL_DISABLED, "per-message TTL is disabled");
    }

    wrapping! {
        /// JSClusterNoPeersErrF: 400 10005 `{err}` (placement found too few servers).
        cluster_no_peers => (400, CLUSTER_NO_PEERS);
        /// JSStreamCreateErrF: 500 10049 `{err}`.
        stream_create => (500, STREAM_CREATE);
        /// JSStreamDeleteErrF: 500 10050 `{err}`.
        stream_delete => (500, STREAM_DELETE);
        /// JSStreamGeneralErrorF: 500 10051 `{err}`.
        stream_general => (500, STREAM_GENERAL);
        /// JSStreamInvalidConfigF: 500 10052 `{err}`: every stream config validation failure.
        stream_invalid_config => (500, STREAM_INVALID_CONFIG);
        /// JSStreamLimitsErrF: 500 10053 `{err}`.
        stream_limits => (500, STREAM_LIMITS);
        /// JSStreamMsgDeleteFailedF: 500 10057 `{err}` (the store's error text, e.g.
        /// "no message found", "stream store EOF").
        stream_msg_delete_failed => (500, STREAM_MSG_DELETE_FAILED);
        /// JSStreamUpdateErrF: 500 10069 `{err}`.
        stream_update => (500, STREAM_UPDATE);
        /// JSStreamStoreFailedF: 503 10077 `{err}`: the store refused a message (limits with
        /// discard new). See [`ApiError::maximum_messages_exceeded`] and friends.
        stream_store_failed => (503, STREAM_STORE_FAILED);
        /// JSStreamPurgeFailedF: 500 10110 `{err}`.
        stream_purge_failed => (500, STREAM_PURGE_FAILED);
        /// JSStreamRollupFailedF: 500 10111 `{err}`.
        stream_rollup_failed => (500, STREAM_ROLLUP_FAILED);
    }

    /// JSSequenceNotFoundErrF: 400 10043 `sequence {seq} not found`.
    pub fn sequence_not_found(seq: u64) -> ApiError {
        ApiError::new(400, SEQUENCE_NOT_FOUND, format!("sequence {seq} not found"))
    }

    /// JSStreamWrongLastMsgIDErrF: 400 10070 `wrong last msg ID: {id}` (`id` is the stream's
    /// actual last msg id).
    pub fn stream_wrong_last_msg_id(id: &str) -> ApiError {
        ApiError::new(
            400,
            STREAM_WRONG_LAST_MSG_ID,
            format!("wrong last msg ID: {id}"),
        )
    }

    /// JSStreamWrongLastSequenceErrF: 400 10071 `wrong last sequence: {seq}` (`seq` is the
    /// stream's, or the subject's, actual last sequence). Used for both
    /// `Nats-Expected-Last-Sequence` and `Nats-Expected-Last-Subject-Sequence`.
    pub fn stream_wrong_last_sequence(seq: u64) -> ApiError {
        ApiError::new(
            400,
            STREAM_WRONG_LAST_SEQUENCE,
            format!("wrong last sequence: {seq}"),
        )
    }

    /// JSStreamTransformInvalidSource: 400 10155 `stream transform source: {err}`.
    pub fn stream_transform_invalid_source(err: impl fmt::Display) -> ApiError {
        ApiError::new(
            400,
            STREAM_TRANSFORM_INVALID_SOURCE,
            format!("stream transform source: {err}"),
        )
    }

    /// JSStreamTransformInvalidDestination: 400 10156 `stream transform: {err}`.
    pub fn stream_transform_invalid_destination(err: impl fmt::Display) -> ApiError {
        ApiError::new(
            400,
            STREAM_TRANSFORM_INVALID_DESTINATION,
            format!("stream transform: {err}"),
        )
    }

    /// 503 10077 "maximum messages exceeded": `max_msgs` reached with discard new (the store's
    /// `ErrMaxMsgs` through JSStreamStoreFailedF).
    pub fn maximum_messages_exceeded() -> ApiError {
        Self::stream_store_failed("maximum messages exceeded")
    }

    /// 503 10077 "maximum bytes exceeded": `max_bytes` reached with discard new.
    pub fn maximum_bytes_exceeded() -> ApiError {
        Self::stream_store_failed("maximum bytes exceeded")
    }

    /// 503 10077 "maximum messages per subject exceeded": `discard_new_per_subject`.
    pub fn maximum_messages_per_subject_exceeded() -> ApiError {
        Self::stream_store_failed("maximum messages per subject exceeded")
    }

    /// 500 10057 "message delete not permitted": STREAM.MSG.DELETE on a `deny_delete` stream.
    pub fn message_delete_not_permitted() -> ApiError {
        Self::stream_msg_delete_failed("message delete not permitted")
    }

    /// 500 10110 "stream purge not permitted": STREAM.PURGE on a `deny_purge` stream.
    pub fn stream_purge_not_permitted() -> ApiError {
        Self::stream_purge_failed("stream purge not permitted")
    }

    /// 500 10111 "rollup not permitted": a `Nats-Rollup` publish without `allow_rollup_hdrs`
    /// (or with `deny_purge`). A `Nats-Rollup` value other than `sub`/`all` gets no ack at all
    /// from nats-server (it only logs `rollup value invalid`).
    pub fn rollup_not_permitted() -> ApiError {
        Self::stream_rollup_failed("rollup not permitted")
    }
}

// ---------------------------------------------------------------------------------------------
// Consumers (`$JS.API.CONSUMER.*`). Codes, statuses and texts from `server/errors.json` of
// v2.10.29 (v2.9.10 and v2.11.17 agree unless noted).

/// `err_code` numbers of the consumer errors, named after nats-server's `ErrorIdentifier`
/// constants (10014 and 10026 are also in [`codes`]).
pub mod consumer_codes {
    pub const CONSUMER_CREATE: u16 = 10012;
    pub const CONSUMER_NAME_EXIST: u16 = 10013;
    pub use super::codes::CONSUMER_NOT_FOUND;
    pub const CONSUMER_DURABLE_NAME_NOT_IN_SUBJECT: u16 = 10016;
    pub const CONSUMER_DURABLE_NAME_NOT_MATCH_SUBJECT: u16 = 10017;
    pub const CONSUMER_DURABLE_NAME_NOT_SET: u16 = 10018;
    pub const CONSUMER_EPHEMERAL_WITH_DURABLE_IN_SUBJECT: u16 = 10019;
    pub const CONSUMER_EPHEMERAL_WITH_DURABLE_NAME: u16 = 10020;
    pub use super::codes::MAXIMUM_CONSUMERS_LIMIT;
    pub const CONSUMER_CONFIG_REQUIRED: u16 = 10078;
    pub const CONSUMER_DELIVER_TO_WILDCARDS: u16 = 10079;
    pub const CONSUMER_PUSH_MAX_WAITING: u16 = 10080;
    pub const CONSUMER_DELIVER_CYCLE: u16 = 10081;
    pub const CONSUMER_MAX_PENDING_ACK_POLICY_REQUIRED: u16 = 10082;
    pub const CONSUMER_SMALL_HEARTBEAT: u16 = 10083;
    pub const CONSUMER_PULL_REQUIRES_ACK: u16 = 10084;
    pub const CONSUMER_PULL_NOT_DURABLE: u16 = 10085;
    pub const CONSUMER_PULL_WITH_RATE_LIMIT: u16 = 10086;
    pub const CONSUMER_MAX_WAITING_NEGATIVE: u16 = 10087;
    pub const CONSUMER_HB_REQUIRES_PUSH: u16 = 10088;
    pub const CONSUMER_FC_REQUIRES_PUSH: u16 = 10089;
    pub const CONSUMER_DIRECT_REQUIRES_PUSH: u16 = 10090;
    pub const CONSUMER_DIRECT_REQUIRES_EPHEMERAL: u16 = 10091;
    pub const CONSUMER_ON_MAPPED: u16 = 10092;
    pub const CONSUMER_FILTER_NOT_SUBSET: u16 = 10093;
    pub const CONSUMER_INVALID_POLICY: u16 = 10094;
    pub const CONSUMER_INVALID_SAMPLING: u16 = 10095;
    pub const CONSUMER_WQ_REQUIRES_EXPLICIT_ACK: u16 = 10098;
    pub const CONSUMER_WQ_MULTIPLE_UNFILTERED: u16 = 10099;
    pub const CONSUMER_WQ_CONSUMER_NOT_UNIQUE: u16 = 10100;
    pub const CONSUMER_WQ_CONSUMER_NOT_DELIVER_ALL: u16 = 10101;
    pub const CONSUMER_NAME_TOO_LONG: u16 = 10102;
    pub const CONSUMER_BAD_DURABLE_NAME: u16 = 10103;
    pub const CONSUMER_STORE_FAILED: u16 = 10104;
    pub const CONSUMER_EXISTING_ACTIVE: u16 = 10105;
    pub const CONSUMER_REPLACEMENT_WITH_DIFFERENT_NAME: u16 = 10106;
    pub const CONSUMER_DESCRIPTION_TOO_LONG: u16 = 10107;
    pub const CONSUMER_WITH_FLOW_CONTROL_NEEDS_HEARTBEATS: u16 = 10108;
    pub const CONSUMER_INVALID_DELIVER_SUBJECT: u16 = 10112;
    pub const CONSUMER_MAX_REQUEST_BATCH_NEGATIVE: u16 = 10114;
    pub const CONSUMER_MAX_REQUEST_EXPIRES_TOO_SMALL: u16 = 10115;
    pub const CONSUMER_MAX_DELIVER_BACKOFF: u16 = 10116;
    pub const CONSUMER_OFFLINE: u16 = 10119;
    pub const CONSUMER_MAX_PENDING_ACK_EXCESS: u16 = 10121;
    pub const CONSUMER_MAX_REQUEST_BATCH_EXCEEDED: u16 = 10125;
    pub const CONSUMER_REPLICAS_EXCEEDS_STREAM: u16 = 10126;
    pub const CONSUMER_NAME_CONTAINS_PATH_SEPARATORS: u16 = 10127;
    pub const CONSUMER_CREATE_FILTER_SUBJECT_MISMATCH: u16 = 10131;
    pub const CONSUMER_CREATE_DURABLE_AND_NAME_MISMATCH: u16 = 10132;
    pub const CONSUMER_REPLICAS_SHOULD_MATCH_STREAM: u16 = 10134;
    pub const CONSUMER_METADATA_LENGTH: u16 = 10135;
    pub const CONSUMER_DUPLICATE_FILTER_SUBJECTS: u16 = 10136;
    pub const CONSUMER_MULTIPLE_FILTERS_NOT_ALLOWED: u16 = 10137;
    pub const CONSUMER_OVERLAPPING_SUBJECT_FILTERS: u16 = 10138;
    pub const CONSUMER_EMPTY_FILTER: u16 = 10139;
    pub const CONSUMER_ALREADY_EXISTS: u16 = 10148;
    pub const CONSUMER_DOES_NOT_EXIST: u16 = 10149;
    pub const CONSUMER_INACTIVE_THRESHOLD_EXCESS: u16 = 10153;
}

use consumer_codes::*;

impl ApiError {
    fixed! {
        /// JSConsumerNameExistErr: 400 10013 (an update moving a push consumer off a deliver
        /// subject that still has interest).
        consumer_name_exist => (400, CONSUMER_NAME_EXIST, "consumer name already in use");
        /// JSConsumerDurableNameNotInSubjectErr: 400 10016 (defined, not sent: no subject
        /// reaches it on a single server).
        consumer_durable_name_not_in_subject => (400, CONSUMER_DURABLE_NAME_NOT_IN_SUBJECT, "consumer expected to be durable but no durable name set in subject");
        /// JSConsumerDurableNameNotMatchSubjectErr: 400 10017.
        consumer_durable_name_not_match_subject => (400, CONSUMER_DURABLE_NAME_NOT_MATCH_SUBJECT, "consumer name in subject does not match durable name in request");
        /// JSConsumerDurableNameNotSetErr: 400 10018.
        consumer_durable_name_not_set => (400, CONSUMER_DURABLE_NAME_NOT_SET, "consumer expected to be durable but a durable name was not set");
        /// JSConsumerEphemeralWithDurableInSubjectErr: 400 10019 (defined, not sent by v2.10).
        consumer_ephemeral_with_durable_in_subject => (400, CONSUMER_EPHEMERAL_WITH_DURABLE_IN_SUBJECT, "consumer expected to be ephemeral but detected a durable name set in subject");
        /// JSConsumerEphemeralWithDurableNameErr: 400 10020.
        consumer_ephemeral_with_durable_name => (400, CONSUMER_EPHEMERAL_WITH_DURABLE_NAME, "consumer expected to be ephemeral but a durable name was set in request");
        /// JSConsumerConfigRequiredErr: 400 10078.
        consumer_config_required => (400, CONSUMER_CONFIG_REQUIRED, "consumer config required");
        /// JSConsumerDeliverToWildcardsErr: 400 10079.
        consumer_deliver_to_wildcards => (400, CONSUMER_DELIVER_TO_WILDCARDS, "consumer deliver subject has wildcards");
        /// JSConsumerPushMaxWaitingErr: 400 10080.
        consumer_push_max_waiting => (400, CONSUMER_PUSH_MAX_WAITING, "consumer in push mode can not set max waiting");
        /// JSConsumerDeliverCycleErr: 400 10081.
        consumer_deliver_cycle => (400, CONSUMER_DELIVER_CYCLE, "consumer deliver subject forms a cycle");
        /// JSConsumerMaxPendingAckPolicyRequiredErr: 400 10082.
        consumer_max_pending_ack_policy_required => (400, CONSUMER_MAX_PENDING_ACK_POLICY_REQUIRED, "consumer requires ack policy for max ack pending");
        /// JSConsumerSmallHeartbeatErr: 400 10083.
        consumer_small_heartbeat => (400, CONSUMER_SMALL_HEARTBEAT, "consumer idle heartbeat needs to be >= 100ms");
        /// JSConsumerPullRequiresAckErr: 400 10084. v2.9/v2.10 text (v2.11: "consumer in pull
        /// mode requires explicit ack policy on workqueue stream").
        consumer_pull_requires_ack => (400, CONSUMER_PULL_REQUIRES_ACK, "consumer in pull mode requires ack policy");
        /// JSConsumerPullNotDurableErr: 400 10085 (defined, not sent by v2.10).
        consumer_pull_not_durable => (400, CONSUMER_PULL_NOT_DURABLE, "consumer in pull mode requires a durable name");
        /// JSConsumerPullWithRateLimitErr: 400 10086.
        consumer_pull_with_rate_limit => (400, CONSUMER_PULL_WITH_RATE_LIMIT, "consumer in pull mode can not have rate limit set");
        /// JSConsumerMaxWaitingNegativeErr: 400 10087.
        consumer_max_waiting_negative => (400, CONSUMER_MAX_WAITING_NEGATIVE, "consumer max waiting needs to be positive");
        /// JSConsumerHBRequiresPushErr: 400 10088.
        consumer_hb_requires_push => (400, CONSUMER_HB_REQUIRES_PUSH, "consumer idle heartbeat requires a push based consumer");
        /// JSConsumerFCRequiresPushErr: 400 10089.
        consumer_fc_requires_push => (400, CONSUMER_FC_REQUIRES_PUSH, "consumer flow control requires a push based consumer");
        /// JSConsumerDirectRequiresPushErr: 400 10090.
        consumer_direct_requires_push => (400, CONSUMER_DIRECT_REQUIRES_PUSH, "consumer direct requires a push based consumer");
        /// JSConsumerDirectRequiresEphemeralErr: 400 10091.
        consumer_direct_requires_ephemeral => (400, CONSUMER_DIRECT_REQUIRES_EPHEMERAL, "consumer direct requires an ephemeral consumer");
        /// JSConsumerOnMappedErr: 400 10092 (defined, not sent by v2.10).
        consumer_on_mapped => (400, CONSUMER_ON_MAPPED, "consumer direct on a mapped consumer");
        /// JSConsumerFilterNotSubsetErr: 400 10093. Sent by v2.9 for a filter outside the
        /// stream's subjects; v2.10 no longer checks that, and Sluice does not send it.
        consumer_filter_not_subset => (400, CONSUMER_FILTER_NOT_SUBSET, "consumer filter subject is not a valid subset of the interest subjects");
        /// JSConsumerWQRequiresExplicitAckErr: 400 10098.
        consumer_wq_requires_explicit_ack => (400, CONSUMER_WQ_REQUIRES_EXPLICIT_ACK, "workqueue stream requires explicit ack");
        /// JSConsumerWQMultipleUnfilteredErr: 400 10099.
        consumer_wq_multiple_unfiltered => (400, CONSUMER_WQ_MULTIPLE_UNFILTERED, "multiple non-filtered consumers not allowed on workqueue stream");
        /// JSConsumerWQConsumerNotUniqueErr: 400 10100.
        consumer_wq_consumer_not_unique => (400, CONSUMER_WQ_CONSUMER_NOT_UNIQUE, "filtered consumer not unique on workqueue stream");
        /// JSConsumerWQConsumerNotDeliverAllErr: 400 10101.
        consumer_wq_consumer_not_deliver_all => (400, CONSUMER_WQ_CONSUMER_NOT_DELIVER_ALL, "consumer must be deliver all on workqueue stream");
        /// JSConsumerBadDurableNameErr: 400 10103 (any invalid consumer name, durable or not).
        consumer_bad_durable_name => (400, CONSUMER_BAD_DURABLE_NAME, "durable name can not contain '.', '*', '>'");
        /// JSConsumerExistingActiveErr: 400 10105.
        consumer_existing_active => (400, CONSUMER_EXISTING_ACTIVE, "consumer already exists and is still active");
        /// JSConsumerReplacementWithDifferentNameErr: 400 10106.
        consumer_replacement_with_different_name => (400, CONSUMER_REPLACEMENT_WITH_DIFFERENT_NAME, "consumer replacement durable config not the same");
        /// JSConsumerWithFlowControlNeedsHeartbeats: 400 10108.
        consumer_with_flow_control_needs_heartbeats => (400, CONSUMER_WITH_FLOW_CONTROL_NEEDS_HEARTBEATS, "consumer with flow control also needs heartbeats");
        /// JSConsumerInvalidDeliverSubject: 400 10112.
        consumer_invalid_deliver_subject => (400, CONSUMER_INVALID_DELIVER_SUBJECT, "invalid push consumer deliver subject");
        /// JSConsumerMaxRequestBatchNegativeErr: 400 10114.
        consumer_max_request_batch_negative => (400, CONSUMER_MAX_REQUEST_BATCH_NEGATIVE, "consumer max request batch needs to be > 0");
        /// JSConsumerMaxRequestExpiresToSmall: 400 10115.
        consumer_max_request_expires_too_small => (400, CONSUMER_MAX_REQUEST_EXPIRES_TOO_SMALL, "consumer max request expires needs to be >= 1ms");
        /// JSConsumerMaxDeliverBackoffErr: 400 10116.
        consumer_max_deliver_backoff => (400, CONSUMER_MAX_DELIVER_BACKOFF, "max deliver is required to be > length of backoff values");
        /// JSConsumerOfflineErr: 500 10119.
        consumer_offline => (500, CONSUMER_OFFLINE, "consumer is offline");
        /// JSConsumerReplicasExceedsStream: 400 10126.
        consumer_replicas_exceeds_stream => (400, CONSUMER_REPLICAS_EXCEEDS_STREAM, "consumer config replica count exceeds parent stream");
        /// JSConsumerNameContainsPathSeparatorsErr: 400 10127 (`/` or `\` in the name in the
        /// API subject).
        consumer_name_contains_path_separators => (400, CONSUMER_NAME_CONTAINS_PATH_SEPARATORS, "Consumer name can not contain path separators");
        /// JSConsumerCreateFilterSubjectMismatchErr: 400 10131.
        consumer_create_filter_subject_mismatch => (400, CONSUMER_CREATE_FILTER_SUBJECT_MISMATCH, "Consumer create request did not match filtered subject from create subject");
        /// JSConsumerCreateDurableAndNameMismatch: 400 10132.
        consumer_create_durable_and_name_mismatch => (400, CONSUMER_CREATE_DURABLE_AND_NAME_MISMATCH, "Consumer Durable and Name have to be equal if both are provided");
        /// JSConsumerReplicasShouldMatchStream: 400 10134 (v2.10).
        consumer_replicas_should_match_stream => (400, CONSUMER_REPLICAS_SHOULD_MATCH_STREAM, "consumer config replicas must match interest retention stream's replicas");
        /// JSConsumerDuplicateFilterSubjects: 400 10136 (v2.10).
        consumer_duplicate_filter_subjects => (400, CONSUMER_DUPLICATE_FILTER_SUBJECTS, "consumer cannot have both FilterSubject and FilterSubjects specified");
        /// JSConsumerMultipleFiltersNotAllowed: 400 10137 (v2.10).
        consumer_multiple_filters_not_allowed => (400, CONSUMER_MULTIPLE_FILTERS_NOT_ALLOWED, "consumer with multiple subject filters cannot use subject based API");
        /// JSConsumerOverlappingSubjectFilters: 400 10138 (v2.10).
        consumer_overlapping_subject_filters => (400, CONSUMER_OVERLAPPING_SUBJECT_FILTERS, "consumer subject filters cannot overlap");
        /// JSConsumerEmptyFilter: 400 10139 (v2.10).
        consumer_empty_filter => (400, CONSUMER_EMPTY_FILTER, "consumer filter in FilterSubjects cannot be empty");
        /// JSConsumerAlreadyExists: 400 10148 (v2.10; action `create` with a different config).
        consumer_already_exists => (400, CONSUMER_ALREADY_EXISTS, "consumer already exists");
        /// JSConsumerDoesNotExist: 400 10149 (v2.10; action `update` of a missing consumer).
        consumer_does_not_exist => (400, CONSUMER_DOES_NOT_EXIST, "consumer does not exist");
    }

    wrapping! {
        /// JSConsumerCreateErrF: 500 10012 `{err}`: a refused consumer update
        /// ("deliver policy can not be updated", ...).
        consumer_create => (500, CONSUMER_CREATE);
        /// JSConsumerInvalidPolicyErrF: 400 10094 `{err}`: deliver policy vs. optional start
        /// conflicts.
        consumer_invalid_policy => (400, CONSUMER_INVALID_POLICY);
    }

    /// JSConsumerInvalidSamplingErrF: 400 10095
    /// `failed to parse consumer sampling configuration: {err}` (`err` is Go's `strconv.Atoi`
    /// error text, or `<nil>` for a negative number).
    pub fn consumer_invalid_sampling(err: impl fmt::Display) -> ApiError {
        ApiError::new(
            400,
            CONSUMER_INVALID_SAMPLING,
            format!("failed to parse consumer sampling configuration: {err}"),
        )
    }

    /// JSConsumerNameTooLongErrF: 400 10102 `consumer name is too long, maximum allowed is {max}`.
    pub fn consumer_name_too_long(max: usize) -> ApiError {
        ApiError::new(
            400,
            CONSUMER_NAME_TOO_LONG,
            format!("consumer name is too long, maximum allowed is {max}"),
        )
    }

    /// JSConsumerStoreFailedErrF: 500 10104 `error creating store for consumer: {err}`.
    pub fn consumer_store_failed(err: impl fmt::Display) -> ApiError {
        ApiError::new(
            500,
            CONSUMER_STORE_FAILED,
            format!("error creating store for consumer: {err}"),
        )
    }

    /// JSConsumerDescriptionTooLongErrF: 400 10107
    /// `consumer description is too long, maximum allowed is {max}`.
    pub fn consumer_description_too_long(max: usize) -> ApiError {
        ApiError::new(
            400,
            CONSUMER_DESCRIPTION_TOO_LONG,
            format!("consumer description is too long, maximum allowed is {max}"),
        )
    }

    /// JSConsumerMaxPendingAckExcessErrF: 400 10121
    /// `consumer max ack pending exceeds system limit of {limit}`.
    pub fn consumer_max_pending_ack_excess(limit: i64) -> ApiError {
        ApiError::new(
            400,
            CONSUMER_MAX_PENDING_ACK_EXCESS,
            format!("consumer max ack pending exceeds system limit of {limit}"),
        )
    }

    /// JSConsumerMaxRequestBatchExceededF: 400 10125
    /// `consumer max request batch exceeds server limit of {limit}`.
    pub fn consumer_max_request_batch_exceeded(limit: i64) -> ApiError {
        ApiError::new(
            400,
            CONSUMER_MAX_REQUEST_BATCH_EXCEEDED,
            format!("consumer max request batch exceeds server limit of {limit}"),
        )
    }

    /// JSConsumerMetadataLengthErrF: 400 10135 `consumer metadata exceeds maximum size of
    /// {limit}` (v2.10; nats-server passes `"128KB"`).
    pub fn consumer_metadata_length(limit: impl fmt::Display) -> ApiError {
        ApiError::new(
            400,
            CONSUMER_METADATA_LENGTH,
            format!("consumer metadata exceeds maximum size of {limit}"),
        )
    }

    /// JSConsumerInactiveThresholdExcess: 400 10153 `consumer inactive threshold exceeds system
    /// limit of {limit}` (v2.10; `limit` is a Go duration as Go prints it, e.g. `1m0s`: pass a
    /// `crate::consumer::config::GoDuration`).
    pub fn consumer_inactive_threshold_excess(limit: impl fmt::Display) -> ApiError {
        ApiError::new(
            400,
            CONSUMER_INACTIVE_THRESHOLD_EXCESS,
            format!("consumer inactive threshold exceeds system limit of {limit}"),
        )
    }
}
