variable "name" {
  description = "Repository name, e.g. stockops/api."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the repository's images."
  type        = string
}

variable "untagged_expiry_days" {
  description = "Days after which untagged images are deleted."
  type        = number
  default     = 14
}

variable "max_commit_images" {
  description = "How many commit builds (tags sha-*, pushed on every push to main) to keep, newest first; release images (v*) are never expired."
  type        = number
  default     = 100
}

variable "tags" {
  description = "Tags for the repository."
  type        = map(string)
  default     = {}
}
