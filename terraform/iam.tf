# IAM roles for service accounts (IRSA): pods get AWS credentials for exactly their account.

# User code, run pods, the API and MLflow (the chart's workload service account): the MLflow
# artifact bucket (MLflow writes and reads artifacts through boto3).
data "aws_iam_policy_document" "workload" {
  statement {
    sid       = "ListBucket"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [module.mlflow_artifacts.bucket_arn]
  }

  statement {
    sid       = "ReadWriteObjects"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    resources = ["${module.mlflow_artifacts.bucket_arn}/*"]
  }

  statement {
    sid       = "UseProjectKey"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [aws_kms_key.main.arn]
  }
}

resource "aws_iam_policy" "workload" {
  name        = "${local.name}-workload"
  description = "StockOps pods: the MLflow artifact bucket"
  policy      = data.aws_iam_policy_document.workload.json
}

module "workload_irsa" {
  #checkov:skip=CKV_TF_1:Registry modules are pinned to an exact released version; commit hashes apply to git sources
  source  = "terraform-aws-modules/iam/aws//modules/iam-role-for-service-accounts-eks"
  version = "5.60.0"

  role_name = "${local.name}-workload"
  role_policy_arns = {
    workload = aws_iam_policy.workload.arn
  }

  oidc_providers = {
    main = {
      provider_arn               = module.eks.oidc_provider_arn
      namespace_service_accounts = ["${var.kubernetes_namespace}:${local.workload_service_account}"]
    }
  }
}

module "ebs_csi_irsa" {
  #checkov:skip=CKV_TF_1:Registry modules are pinned to an exact released version; commit hashes apply to git sources
  source  = "terraform-aws-modules/iam/aws//modules/iam-role-for-service-accounts-eks"
  version = "5.60.0"

  role_name             = "${local.name}-ebs-csi"
  attach_ebs_csi_policy = true
  ebs_csi_kms_cmk_ids   = [aws_kms_key.main.arn]

  oidc_providers = {
    main = {
      provider_arn               = module.eks.oidc_provider_arn
      namespace_service_accounts = ["kube-system:ebs-csi-controller-sa"]
    }
  }
}

module "efs_csi_irsa" {
  #checkov:skip=CKV_TF_1:Registry modules are pinned to an exact released version; commit hashes apply to git sources
  source  = "terraform-aws-modules/iam/aws//modules/iam-role-for-service-accounts-eks"
  version = "5.60.0"

  role_name             = "${local.name}-efs-csi"
  attach_efs_csi_policy = true

  oidc_providers = {
    main = {
      provider_arn               = module.eks.oidc_provider_arn
      namespace_service_accounts = ["kube-system:efs-csi-controller-sa", "kube-system:efs-csi-node-sa"]
    }
  }
}
