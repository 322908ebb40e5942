"""The Dagster layer: partitions, resources, assets with their checks, jobs, schedules, sensors."""
