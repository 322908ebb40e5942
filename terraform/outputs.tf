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
  description = "VPC CIDR."
  value       = module.vpc.vpc_cidr_block
}

output "public_subnet_cidrs" {
  description = "Subnets of the internet-facing ALB (networkPolicy.ingressFrom.public ipBlocks in the production values)."
  value       = module.vpc.public_subnets_cidr_blocks
}

output "internal_alb_subnet_cidrs" {
  description = "Subnets of the internal ALB (networkPolicy.ingressFrom.private ipBlocks in the production values)."
  value       = aws_subnet.internal_alb[*].cidr_block
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

output "workload_role_arn" {
  description = "IRSA role of the chart's workload service account (serviceAccounts.workload.annotations eks.amazonaws.com/role-arn)."
  value       = module.workload_irsa.iam_role_arn
}

output "github_images_role_arn" {
  description = "Role images.yml assumes through OIDC on main and version tags: ECR push only (repository variable AWS_IMAGES_ROLE_ARN)."
  value       = aws_iam_role.github_images.arn
}

output "github_deploy_role_arn" {
  description = "Role deploy.yml's deploy job assumes in the GitHub environment github_deploy_environment only: namespace admin through RBAC (repository variable AWS_DEPLOY_ROLE_ARN)."
  value       = aws_iam_role.github_deploy.arn
}

output "efs_file_system_id" {
  description = "EFS file system of the shared data directory."
  value       = aws_efs_file_system.data.id
}

output "storage_classes" {
  description = "StorageClasses Terraform created: gp3 (the default; qdrant.persistence.storageClass) and efs-sc (persistence.data.storageClass, ReadWriteMany)."
  value = {
    default = kubernetes_storage_class_v1.gp3.metadata[0].name
    shared  = kubernetes_storage_class_v1.efs.metadata[0].name
  }
}

output "kubernetes_namespace" {
  description = "Namespace Terraform created for the release (the deploy role's access is scoped to it)."
  value       = kubernetes_namespace_v1.stockops.metadata[0].name
}

output "rds_address" {
  description = "RDS Postgres host name (postgresql.host in the chart); null without RDS."
  value       = var.create_rds ? aws_db_instance.postgres[0].address : null
}

output "postgresql_secret_arn" {
  description = "Secrets Manager secret with the Postgres credentials (JSON: username, postgres-password, host, port, feast-registry-url); not rotated automatically."
  value       = aws_secretsmanager_secret.postgresql.arn
}

output "postgresql_kubernetes_secret" {
  description = "Kubernetes Secret (in kubernetes_namespace) with the same keys: secrets.postgresql and secrets.feast of the chart."
  value       = kubernetes_secret_v1.postgresql.metadata[0].name
}

output "alb_auth_annotations" {
  description = "Ingress annotations that log users in through the Cognito user pool (for the alb_auth_hosts); empty without alb_auth_hosts."
  value = local.alb_auth_enabled ? {
    "alb.ingress.kubernetes.io/auth-type" = "cognito"
    "alb.ingress.kubernetes.io/auth-idp-cognito" = jsonencode({
      userPoolARN      = aws_cognito_user_pool.operators[0].arn
      userPoolClientID = aws_cognito_user_pool_client.alb[0].id
      userPoolDomain   = aws_cognito_user_pool_domain.operators[0].domain
    })
    "alb.ingress.kubernetes.io/auth-on-unauthenticated-request" = "authenticate"
    "alb.ingress.kubernetes.io/auth-scope"                      = "openid email"
    "alb.ingress.kubernetes.io/auth-session-timeout"            = "28800"
  } : {}
}

output "cognito_user_pool_id" {
  description = "Cognito user pool of the operators (aws cognito-idp admin-create-user --user-pool-id <this>); null without alb_auth_hosts."
  value       = local.alb_auth_enabled ? aws_cognito_user_pool.operators[0].id : null
}

output "kms_key_arn" {
  description = "The project's KMS key."
  value       = aws_kms_key.main.arn
}

output "gpu_runs_enabled" {
  description = "Whether the GPU node group exists: the chart's runs.gpu.enabled (repository variable GPU_RUNS_ENABLED of the deploy workflow). GPU runs without it stay Pending until they time out."
  value       = var.enable_gpu_node_group
}
