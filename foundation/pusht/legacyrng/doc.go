// Package legacyrng reproduces the number streams of NumPy's legacy
// np.random.RandomState for an integer seed: the MT19937 generator seeded
// with init_genrand, randint by masked rejection sampling, random_sample as a
// 53-bit double built from two 32-bit draws, and randn by the polar
// Box–Muller method that caches its second value.
//
// PushT's reference reset draws its initial state from RandomState(seed), so
// the benchmark's seeds only mean the same episodes if these streams match
// NumPy bit for bit (the Gaussian may differ in the last ulp because Go's
// math.Log is not glibc's log).
package legacyrng
