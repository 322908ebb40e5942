variable "region" {
  description = "AWS region for every resource."
  type        = string
  default     = "eu-west-1"
}

variable "project" {
  description = "Name prefix of every resource (cluster, buckets, repositories)."
  type        = string
  default     = "stockops"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.project))
    error_message = "project must be lower-case letters, digits and dashes (2-21 characters)."
  }
}

variable "environment" {
  description = "Environment name (prod, staging, ...), part of every resource name."
  type        = string
  default     = "prod"
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}

# --- network ------------------------------------------------------------------------------------
variable "vpc_cidr" {
  description = "CIDR block of the VPC; the Helm production values allow it to reach the exposed pods (ALB in IP mode)."
  type        = string
  default     = "10.0.0.0/16"
}

variable "availability_zone_count" {
  description = "How many availability zones the VPC and node groups span."
  type        = number
  default     = 3

  validation {
    condition     = var.availability_zone_count >= 2 && var.availability_zone_count <= 4
    error_message = "Use 2 to 4 availability zones."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all zones (cheaper) instead of one per zone (zone-failure tolerant)."
  type        = bool
  default     = false
}

# --- EKS ----------------------------------------------------------------------------------------
variable "kubernetes_version" {
  description = "EKS Kubernetes version (the chart is validated against 1.30 schemas)."
  type        = string
  default     = "1.30"
}

variable "cluster_endpoint_public_access" {
  description = "Whether the EKS API endpoint is reachable from the internet (restricted to cluster_endpoint_public_access_cidrs)."
  type        = bool
  default     = true
}

variable "cluster_endpoint_public_access_cidrs" {
  description = "CIDR blocks allowed to reach the public EKS API endpoint (CI runners, offices). Never 0.0.0.0/0 in production."
  type        = list(string)
  default     = ["10.0.0.0/8"]
}

variable "kubernetes_namespace" {
  description = "Namespace the Helm release is installed in (IAM roles for service accounts are bound to it)."
  type        = string
  default     = "stockops"
}

variable "helm_release_name" {
  description = "Helm release name; the chart names its workload service account <release>-workload (or just stockops-workload when the release is 'stockops')."
  type        = string
  default     = "stockops"
}

variable "general_node_instance_types" {
  description = "Instance types of the general managed node group (Dagster, API, run pods)."
  type        = list(string)
  default     = ["m6i.xlarge"]
}

variable "general_node_min_size" {
  description = "Minimum size of the general node group."
  type        = number
  default     = 2
}

variable "general_node_max_size" {
  description = "Maximum size of the general node group."
  type        = number
  default     = 6
}

variable "general_node_desired_size" {
  description = "Initial size of the general node group."
  type        = number
  default     = 3
}

variable "enable_gpu_node_group" {
  description = "Create a GPU managed node group for training runs (label stockops.io/node-pool=gpu, taint nvidia.com/gpu), matching the chart's runs.gpu values."
  type        = bool
  default     = false
}

variable "gpu_node_instance_types" {
  description = "Instance types of the GPU node group."
  type        = list(string)
  default     = ["g5.xlarge"]
}

variable "gpu_node_max_size" {
  description = "Maximum size of the GPU node group (it scales from zero)."
  type        = number
  default     = 2
}

# --- registries and storage -----------------------------------------------------------------------
variable "ecr_repositories" {
  description = "ECR repositories to create, one per image built by .github/workflows/images.yml."
  type        = list(string)
  default     = ["user-code", "dagster", "api", "streamlit"]
}

variable "artifact_retention_days" {
  description = "Days before noncurrent versions of MLflow artifacts and Feast offline files expire."
  type        = number
  default     = 90
}

# --- Postgres -------------------------------------------------------------------------------------
variable "create_rds" {
  description = "Create an RDS Postgres instance for Dagster storage and the MLflow backend store (else the chart's in-cluster Postgres is used)."
  type        = bool
  default     = true
}

variable "rds_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.medium"
}

variable "rds_allocated_storage" {
  description = "Initial RDS storage in GiB (autoscales up to 5x)."
  type        = number
  default     = 50
}

variable "rds_engine_version" {
  description = "Postgres major.minor version for RDS."
  type        = string
  default     = "16.6"
}

variable "rds_multi_az" {
  description = "Run RDS with a standby in a second availability zone."
  type        = bool
  default     = true
}

variable "rds_username" {
  description = "Master user name (the chart's postgresql.username); the password is generated and kept in Secrets Manager."
  type        = string
  default     = "stockops"
}

# --- CI/CD ----------------------------------------------------------------------------------------
variable "github_repository" {
  description = "GitHub repository (owner/name) whose workflows may assume the CI role through OIDC."
  type        = string
  default     = "stockops/stockops"
}

variable "create_github_oidc_provider" {
  description = "Create the account's GitHub Actions OIDC provider (false when the account has one already)."
  type        = bool
  default     = true
}
