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

variable "max_tagged_images" {
  description = "How many tagged images to keep (oldest expire first)."
  type        = number
  default     = 200
}

variable "tags" {
  description = "Tags for the repository."
  type        = map(string)
  default     = {}
}
