/* placeholder until the module lands */
extern int vs_placeholder_db_; int vs_placeholder_db_;
