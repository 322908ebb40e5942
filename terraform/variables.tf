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

variable "create_autoscaling_service_linked_role" {
  description = "Create the account's Auto Scaling service-linked role (AWSServiceRoleForAutoScaling) before the KMS key whose policy names it: true in a new account, false where the role exists already (aws iam get-role --role-name AWSServiceRoleForAutoScaling; creating it twice fails)."
  type        = bool
  default     = true
}

# --- network ------------------------------------------------------------------------------------
variable "vpc_cidr" {
  description = "CIDR block of the VPC (/8 to /16): subnets.tf carves one subnet of each kind per zone out of it."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && try(tonumber(split("/", var.vpc_cidr)[1]) >= 8 && tonumber(split("/", var.vpc_cidr)[1]) <= 16, false)
    error_message = "vpc_cidr must be an IPv4 CIDR block from /8 to /16 (the /24-sized subnets of subnets.tf need the room)."
  }
}

variable "availability_zone_count" {
  description = "How many availability zones the VPC and node groups span."
  type        = number
  default     = 3

  # A fourth zone's /20 private subnet would overlap the public subnets (subnets.tf).
  validation {
    condition     = var.availability_zone_count >= 2 && var.availability_zone_count <= 3
    error_message = "Use 2 or 3 availability zones."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all zones (cheaper) instead of one per zone (zone-failure tolerant)."
  type        = bool
  default     = false
}

# --- EKS ----------------------------------------------------------------------------------------
variable "kubernetes_version" {
  description = "EKS Kubernetes version (the chart is validated against this version's schemas; cluster_autoscaler_image_tag follows its minor)."
  type        = string
  default     = "1.35"
}

variable "cluster_endpoint_public_access" {
  description = "Whether the EKS API endpoint is reachable from the internet, from cluster_endpoint_public_access_cidrs only. false: private endpoint only (deploy from a self-hosted runner inside the VPC)."
  type        = bool
  default     = true
}

# The public endpoint is reached from the internet: a VPC or other private range never matches a
# client there (VPC clients use the private endpoint), and an empty list would mean 0.0.0.0/0.
variable "cluster_endpoint_public_access_cidrs" {
  description = "Public IPv4 ranges allowed on the public EKS API endpoint: the deploy runner's egress (a GitHub larger runner with static IPs, a self-hosted runner's NAT) and the operators' offices. No private ranges, no 0.0.0.0/0, at most 40 (EKS limit)."
  type        = list(string)

  validation {
    condition     = !var.cluster_endpoint_public_access || length(var.cluster_endpoint_public_access_cidrs) > 0
    error_message = "With cluster_endpoint_public_access, list at least one range (an empty list opens the endpoint to 0.0.0.0/0)."
  }

  validation {
    condition     = length(var.cluster_endpoint_public_access_cidrs) <= 40
    error_message = "EKS accepts at most 40 public access CIDR blocks."
  }

  # Two blocks overlap when they agree on the shorter prefix of the two: every listed block must
  # overlap none of the private, shared, loopback or link-local ranges (0.0.0.0/0 overlaps all).
  validation {
    condition = alltrue([
      for cidr in var.cluster_endpoint_public_access_cidrs : try(alltrue([
        for private in ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16"] :
        cidrhost("${cidrhost(cidr, 0)}/${min(tonumber(split("/", cidr)[1]), tonumber(split("/", private)[1]))}", 0)
        != cidrhost("${cidrhost(private, 0)}/${min(tonumber(split("/", cidr)[1]), tonumber(split("/", private)[1]))}", 0)
      ]), false)
    ])
    error_message = "cluster_endpoint_public_access_cidrs must be public IPv4 CIDR blocks: no private (10/8, 172.16/12, 192.168/16), shared (100.64/10), loopback or link-local range, and not 0.0.0.0/0."
  }
}

# Who reaches the private endpoint: the cluster security group admits nothing from outside the
# node group by default, so a self-hosted deploy runner in the VPC (cluster_endpoint_public_access
# false) needs its range listed here.
variable "cluster_endpoint_private_access_cidrs" {
  description = "Ranges inside the VPC or reached through it (a self-hosted deploy runner's subnet, a VPN's client range, a peered network) allowed on the private EKS API endpoint (TCP 443 on the cluster security group). Not 0.0.0.0/0."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for cidr in var.cluster_endpoint_private_access_cidrs : can(cidrhost(cidr, 0)) && try(tonumber(split("/", cidr)[1]) >= 8, false)])
    error_message = "cluster_endpoint_private_access_cidrs must be IPv4 CIDR blocks of /8 or longer (never 0.0.0.0/0)."
  }
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

# Sizing (production values, requests): 8 concurrent runs x 2 vCPU = 16 vCPU, the platform at
# the API's maximum scale (12 x 1 vCPU plus Dagster, MLflow, Redis, Qdrant, Streamlit) 13.75 vCPU,
# add-ons about 1 vCPU: 30.75 vCPU. An m6i.2xlarge schedules about 7.6 vCPU (8 less kubelet
# reservation and DaemonSets): 5 nodes at the peak (tests/deploy/test_terraform.py packs the
# rendered chart onto them), 2 when idle; max 8 leaves room for rolling updates.
variable "general_node_instance_types" {
  description = "Instance types of the general managed node group (Dagster, API, run pods). The cluster autoscaler assumes every type of a group has the same vCPU and memory."
  type        = list(string)
  default     = ["m6i.2xlarge"]
}

variable "general_node_min_size" {
  description = "Minimum size of the general node group (the cluster autoscaler never goes below it)."
  type        = number
  default     = 2
}

variable "general_node_max_size" {
  description = "Maximum size of the general node group (the cluster autoscaler's ceiling)."
  type        = number
  default     = 8
}

variable "general_node_desired_size" {
  description = "Initial size of the general node group; afterwards the cluster autoscaler owns it (the EKS module ignores later changes)."
  type        = number
  default     = 2
}

variable "enable_gpu_node_group" {
  description = "Create a GPU managed node group for training runs (label stockops.io/node-pool=gpu, taint nvidia.com/gpu), matching the chart's runs.gpu values, and the NVIDIA device plugin."
  type        = bool
  default     = false
}

variable "gpu_node_instance_types" {
  description = "Instance types of the GPU node group (one NVIDIA GPU each: gpu_node_gpus_per_instance)."
  type        = list(string)
  default     = ["g5.xlarge"]
}

variable "gpu_node_gpus_per_instance" {
  description = "GPUs per instance of gpu_node_instance_types: the cluster autoscaler's template node for scaling the group up from zero."
  type        = number
  default     = 1
}

variable "gpu_node_max_size" {
  description = "Maximum size of the GPU node group (it scales from zero); at least the chart's runs.gpu.maxConcurrentRuns at one GPU per run."
  type        = number
  default     = 2
}

# --- registries and storage -----------------------------------------------------------------------
variable "ecr_repositories" {
  description = "ECR repositories to create, one per image built by .github/workflows/images.yml (the CUDA user-code build is the tag <version>-cuda in user-code)."
  type        = list(string)
  default     = ["user-code", "dagster", "api", "streamlit"]
}

variable "artifact_retention_days" {
  description = "Days before noncurrent versions of MLflow artifacts expire."
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
  description = "Postgres version for RDS: a major version takes its current default minor (auto_minor_version_upgrade keeps it current); a pinned minor is retired by RDS within about a year. The parameter group family follows its major version."
  type        = string
  default     = "16"

  validation {
    condition     = can(regex("^[0-9]+(\\.[0-9]+)?$", var.rds_engine_version))
    error_message = "rds_engine_version must be a major version (16) or major.minor (16.4)."
  }
}

variable "rds_multi_az" {
  description = "Run RDS with a standby in a second availability zone."
  type        = bool
  default     = true
}

variable "rds_username" {
  description = "Database user of Dagster, MLflow and the Feast registry (the chart's postgresql.username); its password is generated by Terraform (random_password.postgres) and never rotated behind the pods' backs."
  type        = string
  default     = "stockops"
}

# --- CI/CD ----------------------------------------------------------------------------------------
variable "github_repository" {
  description = "GitHub repository (owner/name) whose workflows may assume the CI role through OIDC."
  type        = string
  default     = "stockops/stockops"
}

variable "github_deploy_environment" {
  description = "GitHub environment of the deploy job (deploy.yml: environment); its OIDC subject repo:<repository>:environment:<this> may assume the CI role."
  type        = string
  default     = "production"
}

variable "create_github_oidc_provider" {
  description = "Create the account's GitHub Actions OIDC provider (false when the account has one already)."
  type        = bool
  default     = true
}

# --- cluster add-ons --------------------------------------------------------------------------------
variable "cluster_autoscaler_image_tag" {
  description = "Cluster autoscaler image (registry.k8s.io/autoscaling/cluster-autoscaler); its minor version must be the cluster's (kubernetes_version)."
  type        = string
  default     = "v1.35.0"
}

# --- login in front of the operator UIs -------------------------------------------------------------
variable "alb_auth_hosts" {
  description = "Host names (e.g. dagster.example.com, mlflow.example.com) whose ALB rules log users in through a Cognito user pool; empty: no user pool (keep those UIs on the internal ALB)."
  type        = list(string)
  default     = []
}

variable "cognito_domain_prefix" {
  description = "Prefix of the Cognito hosted login domain (<prefix>.auth.<region>.amazoncognito.com); empty: <project>-<environment>-<account id>."
  type        = string
  default     = ""
}
