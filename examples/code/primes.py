"""The primes below a bound by the sieve of Eratosthenes."""


def primes_below(n: int) -> list[int]:
    sieve = [True] * n
    sieve[:2] = [False, False][:n]
    for p in range(2, int(n ** 0.5) + 1):
        if sieve[p]:
            sieve[p * p::p] = [False] * len(range(p * p, n, p))
    return [i for i, prime in enumerate(sieve) if prime]


if __name__ == "__main__":
    print(primes_below(30))
