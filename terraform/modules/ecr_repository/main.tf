# One ECR repository: immutable tags (a tag always names the same image), scanned on push,
# encrypted with the project key. What expires: untagged images after a while, and builds of
# commits (sha-* tags, one or two per push to main) beyond the newest max_commit_images. Release
# images (v* tags) never expire: the running release, the one `helm rollback` returns to and
# every GPU node or rescheduled pod pull them again at any time.

resource "aws_ecr_repository" "this" {
  name                 = var.name
  image_tag_mutability = "IMMUTABLE"
  force_delete         = false

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = var.kms_key_arn
  }

  tags = var.tags
}

resource "aws_ecr_lifecycle_policy" "this" {
  repository = aws_ecr_repository.this.name
  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Expire untagged images after ${var.untagged_expiry_days} days"
        selection = {
          tagStatus   = "untagged"
          countType   = "sinceImagePushed"
          countUnit   = "days"
          countNumber = var.untagged_expiry_days
        }
        action = { type = "expire" }
      },
      {
        rulePriority = 2
        description  = "Keep the newest ${var.max_commit_images} commit builds (sha-*); release tags are never selected"
        selection = {
          tagStatus      = "tagged"
          tagPatternList = ["sha-*"]
          countType      = "imageCountMoreThan"
          countNumber    = var.max_commit_images
        }
        action = { type = "expire" }
      },
    ]
  })
}
