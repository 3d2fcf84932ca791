-- Data files no snapshot references (left by a killed writer). Run under the write lock only:
-- a writer that is still running has files that no commit references yet.
CALL ducklake_delete_orphaned_files(current_database(), dry_run => ?, cleanup_all => true);
