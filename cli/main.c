#include <stdio.h>
int main(void) { puts("visitsync 0.1.0"); return 0; }
