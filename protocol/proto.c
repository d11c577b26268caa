/* placeholder until the module lands */
extern int vs_placeholder_; int vs_placeholder_;
