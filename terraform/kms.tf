# The project's KMS key and the Auto Scaling service-linked role its policy names.
#
# KMS refuses a key policy whose principal does not exist ("MalformedPolicyDocumentException:
# Policy contains a statement with one or more invalid principals"), and AWS creates
# AWSServiceRoleForAutoScaling only with an account's first Auto Scaling group, which the node
# groups create after this key. In a new account the role is therefore created here first; the
# key's policy names it through the resource, so Terraform orders the key after it.

resource "aws_iam_service_linked_role" "autoscaling" {
  count = var.create_autoscaling_service_linked_role ? 1 : 0

  aws_service_name = "autoscaling.amazonaws.com"
}

locals {
  autoscaling_service_role_arn = (
    var.create_autoscaling_service_linked_role
    ? aws_iam_service_linked_role.autoscaling[0].arn
    : "arn:${local.partition}:iam::${local.account_id}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
  )
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
      identifiers = [local.autoscaling_service_role_arn]
    }
  }

  statement {
    sid       = "AutoScalingGrants"
    actions   = ["kms:CreateGrant"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = [local.autoscaling_service_role_arn]
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
