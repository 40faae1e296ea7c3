/* Greatest common divisor and least common multiple by Euclid's algorithm. */
#include <stdio.h>

static unsigned long gcd(unsigned long a, unsigned long b) {
    while (b != 0) {
        unsigned long r = a % b;
        a = b;
        b = r;
    }
    return a;
}

static unsigned long lcm(unsigned long a, unsigned long b) {
    return a / gcd(a, b) * b;
}

int main(void) {
    printf("gcd(84, 36) = %lu\n", gcd(84, 36));
    printf("lcm(4, 6) = %lu\n", lcm(4, 6));
    return 0;
}
