# GitHub Actions assumes these roles through OIDC (no long-lived keys). Two roles, so that a
# job's reach follows the protection it runs under:
#   - images: every push to main and every version tag builds and pushes images. It may push to
#     the project's ECR repositories and nothing else.
#   - deploy: only a job in the GitHub environment var.github_deploy_environment (deploy.yml's
#     deploy job, behind that environment's tag rule and reviewers) may assume it. It alone holds
#     the cluster access entry (eks.tf), which can read the namespace's Secrets.
# A job on main (images.yml, any future workflow, a compromised action) therefore cannot deploy
# or read the database password without passing the environment's gate.

resource "aws_iam_openid_connect_provider" "github" {
  count = var.create_github_oidc_provider ? 1 : 0

  url            = "https://token.actions.githubusercontent.com"
  client_id_list = ["sts.amazonaws.com"]
}

locals {
  github_oidc_provider_arn = var.create_github_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : "arn:${local.partition}:iam::${local.account_id}:oidc-provider/token.actions.githubusercontent.com"
}

# The subjects GitHub puts in the token: a job without an environment is named by its ref
# (images.yml on main, and on version tags when deploy.yml calls it), a job with `environment:`
# by that environment only (repo:OWNER/NAME:environment:production).
data "aws_iam_policy_document" "github_images_assume" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [local.github_oidc_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringLike"
      variable = "token.actions.githubusercontent.com:sub"
      values = [
        "repo:${var.github_repository}:ref:refs/heads/main",
        "repo:${var.github_repository}:ref:refs/tags/v*",
      ]
    }
  }
}

data "aws_iam_policy_document" "github_deploy_assume" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [local.github_oidc_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = ["repo:${var.github_repository}:environment:${var.github_deploy_environment}"]
    }
  }
}

resource "aws_iam_role" "github_images" {
  name                 = "${local.name}-github-images"
  description          = "GitHub Actions (OIDC), main and version tags: push StockOps images to ECR"
  assume_role_policy   = data.aws_iam_policy_document.github_images_assume.json
  max_session_duration = 3600
}

resource "aws_iam_role" "github_deploy" {
  name                 = "${local.name}-github-deploy"
  description          = "GitHub Actions (OIDC), the ${var.github_deploy_environment} environment only: deploy the Helm chart"
  assume_role_policy   = data.aws_iam_policy_document.github_deploy_assume.json
  max_session_duration = 3600
}

data "aws_iam_policy_document" "github_images" {
  #checkov:skip=CKV_AWS_356:ecr:GetAuthorizationToken has no resource-level permissions; it is the only action on "*"
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid = "EcrPush"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:CompleteLayerUpload",
      "ecr:DescribeImages",
      "ecr:GetDownloadUrlForLayer",
      "ecr:InitiateLayerUpload",
      "ecr:PutImage",
      "ecr:UploadLayerPart",
    ]
    resources = [for repo in module.ecr : repo.repository_arn]
  }

  statement {
    sid       = "EcrKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [aws_kms_key.main.arn]
  }
}

# The deploy job's Kubernetes permissions come from the access entry and the RoleBinding of its
# group (eks.tf, kubernetes.tf); in AWS it only needs the cluster's endpoint and certificate.
data "aws_iam_policy_document" "github_deploy" {
  statement {
    sid       = "DescribeCluster"
    actions   = ["eks:DescribeCluster"]
    resources = [module.eks.cluster_arn]
  }
}

resource "aws_iam_role_policy" "github_images" {
  name   = "push-images"
  role   = aws_iam_role.github_images.id
  policy = data.aws_iam_policy_document.github_images.json
}

resource "aws_iam_role_policy" "github_deploy" {
  name   = "deploy"
  role   = aws_iam_role.github_deploy.id
  policy = data.aws_iam_policy_document.github_deploy.json
}
