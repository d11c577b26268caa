/* placeholder until the module lands */
extern int vs_placeholder_sync_; int vs_placeholder_sync_;
