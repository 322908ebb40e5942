-- Runs once, on an empty data volume: POSTGRES_DB (dagster) exists already; MLflow gets its own.
CREATE DATABASE mlflow;
