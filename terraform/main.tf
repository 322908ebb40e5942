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

  tags = merge(var.tags, {
    Project     = var.project
    Environment = var.environment
    ManagedBy   = "terraform"
  })
}

# One customer-managed key for everything at rest: S3, ECR, EFS, RDS, EKS secrets, logs.
resource "aws_kms_key" "main" {
  description             = "${local.name}: encryption at rest"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
}

resource "aws_kms_alias" "main" {
  name          = "alias/${local.name}"
  target_key_id = aws_kms_key.main.key_id
}

data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_109:A key policy's resource is the key itself; the account root statement is the AWS-recommended default that lets IAM policies grant access
  #checkov:skip=CKV_AWS_111:Same: key policies apply to this key only, and IAM policies in this account scope every grant
  #checkov:skip=CKV_AWS_356:In a key policy "*" means this key
  statement {
    sid       = "AccountAdministration"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # Node groups launch instances with volumes encrypted by this key through Auto Scaling.
  statement {
    sid = "AutoScalingVolumes"
    actions = [
      "kms:Encrypt",
      "kms:Decrypt",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:DescribeKey",
    ]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"]
    }
  }

  statement {
    sid       = "AutoScalingGrants"
    actions   = ["kms:CreateGrant"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"]
    }

    condition {
      test     = "Bool"
      variable = "kms:GrantIsForAWSResource"
      values   = ["true"]
    }
  }

  statement {
    sid = "CloudWatchLogs"
    actions = [
      "kms:Encrypt",
      "kms:Decrypt",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:DescribeKey",
    ]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${var.region}.amazonaws.com"]
    }
  }
}
