output "region" {
  description = "AWS region of the deployment."
  value       = var.region
}

output "cluster_name" {
  description = "EKS cluster name (aws eks update-kubeconfig --name <this>)."
  value       = module.eks.cluster_name
}

output "cluster_endpoint" {
  description = "EKS API endpoint."
  value       = module.eks.cluster_endpoint
}

output "oidc_provider_arn" {
  description = "The cluster's IAM OIDC provider (for further IRSA roles)."
  value       = module.eks.oidc_provider_arn
}

output "vpc_id" {
  description = "VPC ID."
  value       = module.vpc.vpc_id
}

output "vpc_cidr" {
  description = "VPC CIDR (networkPolicy.ingressFrom ipBlock in the production values)."
  value       = module.vpc.vpc_cidr_block
}

output "ecr_registry" {
  description = "Registry host: global.imageRegistry in the chart is this plus '/'."
  value       = "${local.account_id}.dkr.ecr.${var.region}.amazonaws.com"
}

output "ecr_repository_urls" {
  description = "Repository URL per image name."
  value       = { for name, repo in module.ecr : name => repo.repository_url }
}

output "mlflow_artifacts_bucket" {
  description = "Bucket for MLflow artifacts (mlflow.artifactsDestination = s3://<this>/artifacts)."
  value       = module.mlflow_artifacts.bucket_id
}

output "feast_offline_store_bucket" {
  description = "Bucket for the Feast offline store files."
  value       = module.feast_offline_store.bucket_id
}

output "workload_role_arn" {
  description = "IRSA role of the chart's workload service account (serviceAccounts.workload.annotations eks.amazonaws.com/role-arn)."
  value       = module.workload_irsa.iam_role_arn
}

output "github_actions_role_arn" {
  description = "Role the GitHub workflows assume through OIDC (repository variable AWS_ROLE_ARN)."
  value       = aws_iam_role.github_actions.arn
}

output "efs_file_system_id" {
  description = "EFS file system of the shared data directory."
  value       = aws_efs_file_system.data.id
}

output "efs_storage_class_manifest" {
  description = "StorageClass for the chart's data PVC (persistence.data.storageClass: efs-sc); kubectl apply -f - it once."
  value = yamlencode({
    apiVersion  = "storage.k8s.io/v1"
    kind        = "StorageClass"
    metadata    = { name = "efs-sc" }
    provisioner = "efs.csi.aws.com"
    parameters = {
      provisioningMode = "efs-ap"
      fileSystemId     = aws_efs_file_system.data.id
      directoryPerms   = "0770"
      uid              = "10001"
      gid              = "10001"
    }
  })
}

output "rds_address" {
  description = "RDS Postgres host name (postgresql.host in the chart); null without RDS."
  value       = var.create_rds ? aws_db_instance.postgres[0].address : null
}

output "rds_master_user_secret_arn" {
  description = "Secrets Manager secret holding the RDS master password; null without RDS."
  value       = var.create_rds ? aws_db_instance.postgres[0].master_user_secret[0].secret_arn : null
}

output "kms_key_arn" {
  description = "The project's KMS key."
  value       = aws_kms_key.main.arn
}
