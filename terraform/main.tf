# StockOps on AWS: a VPC, an EKS cluster with autoscaled managed node groups (optionally a GPU
# group for training runs) and the add-ons the chart needs (load balancer controller,
# metrics-server, cluster autoscaler, NVIDIA device plugin, EBS/EFS CSI drivers and their
# StorageClasses), ECR repositories for the images, an S3 bucket for MLflow artifacts, EFS for
# the data directory the pods share, IAM roles for service accounts, an optional RDS Postgres
# with credentials that stay put, an optional Cognito user pool for logins at the ALB, and the
# role GitHub Actions assumes through OIDC.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394:Only the first availability_zone_count zones are used (slice in locals); a zone AWS adds later sorts after them and is never picked up
  state = "available"

  filter {
    name   = "opt-in-status"
    values = ["opt-in-not-required"]
  }
}

locals {
  name       = "${var.project}-${var.environment}"
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  azs        = slice(data.aws_availability_zones.available.names, 0, var.availability_zone_count)

  # The chart's fullname is the release name when it contains "stockops"; its service account for
  # user code, run pods, the API and MLflow is <fullname>-workload.
  chart_fullname           = strcontains(var.helm_release_name, "stockops") ? var.helm_release_name : "${var.helm_release_name}-stockops"
  workload_service_account = "${local.chart_fullname}-workload"

  # Kubernetes group of the deploy role (eks.tf access entry, kubernetes.tf RoleBinding).
  deployer_group = "${var.project}-deployers"

  tags = merge(var.tags, {
    Project     = var.project
    Environment = var.environment
    ManagedBy   = "terraform"
  })
}
