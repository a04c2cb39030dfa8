/* main.c: PLACEHOLDER */
int main(void) { return 0; }
