//! What the model knows of a database in the cloud: its settings, the template's defaults
//! filled in. The cloud side compares AWS with this (`cloud::diff`); the model owns it so that
//! the core never depends on a backend.

use serde::Serialize;

/// Cloud settings with the template's defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CloudConfig {
    pub class: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_gb: Option<u32>,
    /// RDS storage autoscaling's ceiling (`MaxAllocatedStorage`); none: autoscaling off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_storage_gb: Option<u32>,
    pub replicas: u32,
    pub multi_az: bool,
    pub deletion_protection: bool,
    pub backup_retention_days: u32,
    /// RDS: enrol in paid Extended Support when the major version's standard support ends.
    /// Off unless the manifest opts in (AWS's own default is on).
    pub extended_support: bool,
}
