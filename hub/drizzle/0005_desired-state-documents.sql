-- Documents written before typed sections held {"modules": [...], "extra": {...}}; they become the
-- protobuf JSON of powernode.v1.DesiredState: {"modules": {"assignments": [...]}}. The untyped
-- `extra` (test-only debug hooks) is dropped: hooks now live in instances.debug.
UPDATE "desired_states"
SET "document" = jsonb_build_object('modules', jsonb_build_object('assignments', "document"->'modules'))
WHERE jsonb_typeof("document"->'modules') = 'array';
