# Optional login at the ALB for the operator UIs (Dagster, MLflow: neither has users of its
# own). With alb_auth_hosts set, a Cognito user pool (administrators create the users; nobody
# signs up) and an app client whose callbacks are those hosts' /oauth2/idpresponse; the
# alb_auth_annotations output is what the chart's ingress annotations for those hosts take.
# Without it, keep the operator UIs on the internal ALB (the production values do).

locals {
  alb_auth_enabled      = length(var.alb_auth_hosts) > 0
  cognito_domain_prefix = var.cognito_domain_prefix != "" ? var.cognito_domain_prefix : "${local.name}-${local.account_id}"
}

resource "aws_cognito_user_pool" "operators" {
  count = local.alb_auth_enabled ? 1 : 0

  name                     = "${local.name}-operators"
  deletion_protection      = "ACTIVE"
  mfa_configuration        = "ON"
  username_attributes      = ["email"]
  auto_verified_attributes = ["email"]

  software_token_mfa_configuration {
    enabled = true
  }

  admin_create_user_config {
    allow_admin_create_user_only = true
  }

  password_policy {
    minimum_length                   = 14
    require_lowercase                = true
    require_uppercase                = true
    require_numbers                  = true
    require_symbols                  = true
    temporary_password_validity_days = 3
  }

  account_recovery_setting {
    recovery_mechanism {
      name     = "verified_email"
      priority = 1
    }
  }
}

resource "aws_cognito_user_pool_domain" "operators" {
  count = local.alb_auth_enabled ? 1 : 0

  domain       = local.cognito_domain_prefix
  user_pool_id = aws_cognito_user_pool.operators[0].id
}

resource "aws_cognito_user_pool_client" "alb" {
  count = local.alb_auth_enabled ? 1 : 0

  name         = "${local.name}-alb"
  user_pool_id = aws_cognito_user_pool.operators[0].id

  # The ALB is a confidential client using the authorization code flow.
  generate_secret                      = true
  allowed_oauth_flows_user_pool_client = true
  allowed_oauth_flows                  = ["code"]
  allowed_oauth_scopes                 = ["openid", "email"]
  supported_identity_providers         = ["COGNITO"]
  callback_urls                        = [for host in var.alb_auth_hosts : "https://${host}/oauth2/idpresponse"]
  logout_urls                          = [for host in var.alb_auth_hosts : "https://${host}/"]
  prevent_user_existence_errors        = "ENABLED"
  enable_token_revocation              = true

  access_token_validity  = 60
  id_token_validity      = 60
  refresh_token_validity = 12
  token_validity_units {
    access_token  = "minutes"
    id_token      = "minutes"
    refresh_token = "hours"
  }
}
