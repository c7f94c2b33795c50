/* longdouble.c -- the few number routines cinnabar needs from C.
 *
 * Why C: Redis does INCRBYFLOAT / HINCRBYFLOAT in C `long double` (80-bit
 * x87 extended precision on x86_64) parsed with strtold and printed with
 * "%.17Lf"; Rust has no long double type, and reproducing those results
 * bit for bit needs the same type and the same libc routines. String-to-
 * double parsing goes through strtod here too, because Redis's accepted
 * syntax is exactly "whatever strtod accepts" (hex floats, inf, infinity...)
 * plus a few extra rejections, and errno handling is simplest in C.
 *
 * All entry points take (pointer, length) byte strings (not NUL-terminated),
 * never write beyond the given capacity and never abort. */

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>

/* Redis's MAX_LONG_DOUBLE_CHARS: inputs of this length or more are rejected
 * by the long double parser, and it is the size of its output buffer. */
#define CINNABAR_MAX_LD_CHARS (5 * 1024)

/* Copy into a NUL-terminated buffer: stack for short inputs, heap else. */
#define SMALL_BUF 128

/* Same acceptance rules as Redis string2d(): strtod over the whole input,
 * rejecting empty input, a leading isspace(), trailing bytes (including an
 * embedded NUL), overflow to +-HUGE_VAL, underflow to zero, and NaN.
 * Returns 1 and stores *out on success, 0 on failure. */
int cinnabar_string2d(const char *s, size_t len, double *out) {
    char small[SMALL_BUF];
    char *buf = small;
    char *eptr;
    double d;
    int ok;

    if (len == 0) return 0;
    if (len >= SMALL_BUF) {
        buf = malloc(len + 1);
        if (buf == NULL) return 0;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';

    errno = 0;
    d = strtod(buf, &eptr);
    ok = !(isspace((unsigned char)buf[0]) ||
           (size_t)(eptr - buf) != len ||
           (errno == ERANGE &&
            (d == HUGE_VAL || d == -HUGE_VAL || fpclassify(d) == FP_ZERO)) ||
           isnan(d));
    if (buf != small) free(buf);
    if (ok && out) *out = d;
    return ok;
}

/* Same acceptance rules as Redis string2ld(): inputs of 5120 bytes or more
 * are rejected; strtold must consume the whole input (so an embedded NUL is
 * rejected); leading isspace(), ERANGE overflow or underflow to zero, and
 * NaN are rejected. */
static int parse_ld(const char *s, size_t len, long double *out) {
    char small[SMALL_BUF];
    char *buf = small;
    char *eptr;
    long double v;
    int ok;

    if (len == 0 || len >= CINNABAR_MAX_LD_CHARS) return 0;
    if (len >= SMALL_BUF) {
        buf = malloc(len + 1);
        if (buf == NULL) return 0;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';

    errno = 0;
    v = strtold(buf, &eptr);
    ok = !(isspace((unsigned char)buf[0]) || eptr[0] != '\0' ||
           (size_t)(eptr - buf) != len ||
           (errno == ERANGE &&
            (v == HUGE_VALL || v == -HUGE_VALL || fpclassify(v) == FP_ZERO)) ||
           isnan(v));
    if (buf != small) free(buf);
    if (ok) *out = v;
    return ok;
}

/* Redis ld2string(..., LD_STR_HUMAN): "%.17Lf", then trailing zeros and a
 * trailing '.' removed, "-0" turned into "0"; inf/nan spelled explicitly.
 * Returns the length written (without NUL), or 0 if it does not fit. */
static size_t fmt_ld_human(long double v, char *out, size_t cap) {
    char buf[CINNABAR_MAX_LD_CHARS];
    size_t l;
    int n;

    if (isinf(v)) {
        const char *t = v > 0 ? "inf" : "-inf";
        l = strlen(t);
        if (l > cap) return 0;
        memcpy(out, t, l);
        return l;
    }
    if (isnan(v)) {
        if (cap < 3) return 0;
        memcpy(out, "nan", 3);
        return 3;
    }
    n = snprintf(buf, sizeof(buf), "%.17Lf", v);
    if (n < 0 || (size_t)n + 1 > sizeof(buf)) return 0;
    l = (size_t)n;
    if (memchr(buf, '.', l) != NULL) {
        while (l > 0 && buf[l - 1] == '0') l--;
        if (l > 0 && buf[l - 1] == '.') l--;
    }
    if (l == 2 && buf[0] == '-' && buf[1] == '0') {
        buf[0] = '0';
        l = 1;
    }
    if (l > cap) return 0;
    memcpy(out, buf, l);
    return l;
}

/* INCRBYFLOAT core. `a` may be NULL (missing key: 0).
 * Returns 0 on success (*outlen set), 1 if `a` is not a valid float,
 * 2 if `b` is not a valid float, 3 if the sum is NaN or infinite,
 * 4 if `out` is too small (5120 bytes always suffice). */
int cinnabar_ld_parse_add_format(const char *a, size_t alen,
                                 const char *b, size_t blen,
                                 char *out, size_t outcap, size_t *outlen) {
    long double x = 0, y = 0, r;
    size_t l;

    if (a != NULL && !parse_ld(a, alen, &x)) return 1;
    if (!parse_ld(b, blen, &y)) return 2;
    r = x + y;
    if (isnan(r) || isinf(r)) return 3;
    l = fmt_ld_human(r, out, outcap);
    if (l == 0) return 4;
    *outlen = l;
    return 0;
}


/* Human long double formatting of a double widened to long double (what
 * Redis's addReplyHumanLongDouble prints for a double argument).
 * Returns the length written, 0 if it does not fit. */
size_t cinnabar_fmt_ld_human_f64(double v, char *out, size_t outcap) {
    return fmt_ld_human((long double)v, out, outcap);
}

/* "%.17g" exactly as printf prints it (Redis 7.0 addReplyDouble).
 * Returns the length written, 0 if it does not fit. */
size_t cinnabar_fmt_g17(double v, char *out, size_t outcap) {
    char buf[64];
    int n = snprintf(buf, sizeof(buf), "%.17g", v);
    if (n <= 0 || (size_t)n >= sizeof(buf) || (size_t)n > outcap) return 0;
    memcpy(out, buf, (size_t)n);
    return (size_t)n;
}

/* "%.*g" with the given precision (Lua 5.1's number-to-string uses %.14g). */
size_t cinnabar_fmt_g(double v, int precision, char *out, size_t outcap) {
    char buf[64];
    int n = snprintf(buf, sizeof(buf), "%.*g", precision, v);
    if (n <= 0 || (size_t)n >= sizeof(buf) || (size_t)n > outcap) return 0;
    memcpy(out, buf, (size_t)n);
    return (size_t)n;
}

/* Classify under string2ld rules: 0 invalid, 1 finite, 2 infinite. */
int cinnabar_ld_classify(const char *s, size_t len) {
    long double v;
    if (!parse_ld(s, len, &v)) return 0;
    return isinf(v) ? 2 : 1;
}
