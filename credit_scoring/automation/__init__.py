"""Automation: the job every schedule, sensor and backfill runs, the daily schedule, the sensor."""
