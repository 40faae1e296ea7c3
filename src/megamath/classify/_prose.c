/* The prose pass of megamath.classify.preprocess, compiled: a page's text (lower-cased, its formulas,
 * table rows, code lines and dotted calls already marked) → one line of tokens separated by single
 * spaces. The regular-expression engine spent ~0.3 ms a 5 KB page finding ~1,000 tokens and Python
 * as much again testing each; this reads each character once.
 *
 * A token starts at any character but whitespace and the punctuation  _ . , ; : ! ? " ' ( ) [ ]
 * (which are dropped) and is, by its first character:
 *   letter     letters, then any `_letters` (in_features), then 2+ digits not followed by a word
 *              character (JCM800; written as `model`)
 *   digit      digits with inner `.d`/`,d` groups, then one of: [space] % € £ usd eur gbp dollar(s)
 *              euro(s) or am/pm (a.m.) · :dd or :dd:dd [space am/pm] · two groups of -d or /d (1–4
 *              digits, the first ending at the separator) — a number, amount, percentage, time, date
 *   $ € £ ¥ ₹  [space] number (digits and commas, .digits) or an identifier ($HOME, ${dir}), or the sign
 *   backslash  $[space]number (stage 1's escaped amount), a TeX command (ASCII letters), or itself
 *   other      itself (a symbol)
 * where "letter" is a word character that is no decimal digit nor `_` ([^\W\d_] of Python's `re`),
 * digits are decimal digits of any script, and words, spaces and digits follow Python's `re` (for
 * pure-ASCII text its ASCII flag, under which \x1c–\x1f are not whitespace).
 *
 * Dropped: a personal pronoun of the first or second person (i, me, my, …, you, …, we, our, …; not us)
 * outside a formula (between the tokens mathspan and mathend).
 *
 * Written as: a token of ASCII letters as it is; one starting with an ASCII digit, a currency sign or a
 * backslash as the special token it stands for (price, shopprice, dollar, codevar, percent, date,
 * clock, 0; an escaped amount is escapedprice, a TeX command itself); one ending in an ASCII digit as `model`;
 * another ASCII token as it is; any other through the caller's function (NFKC). */

#include "../text.h"

static inline int is_space(const Text *t, Py_UCS4 c) {
    if (c < 128 && t->ascii)
        return c == ' ' || (c >= '\t' && c <= '\r');
    return Py_UNICODE_ISSPACE(c);
}

static inline int is_digit(Py_UCS4 c) {
    return c < 128 ? is_ascii_digit(c) : Py_UNICODE_ISDECIMAL(c);
}

static inline int is_word(Py_UCS4 c) {
    if (c < 128)
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    return Py_UNICODE_ISALNUM(c);
}

static inline int is_letter(Py_UCS4 c) {
    if (c < 128)
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    return Py_UNICODE_ISALNUM(c) && !Py_UNICODE_ISDECIMAL(c);
}

static inline int is_dropped(Py_UCS4 c) {
    switch (c) {
    case '_': case '.': case ',': case ';': case ':': case '!': case '?': case '"': case '\'':
    case '(': case ')': case '[': case ']':
        return 1;
    default:
        return 0;
    }
}

static inline int is_currency(Py_UCS4 c) {
    return c == '$' || c == 0x20AC || c == 0xA3 || c == 0xA5 || c == 0x20B9;  /* $ € £ ¥ ₹ */
}

static inline Py_ssize_t skip_digits(const Text *t, Py_ssize_t p) {
    while (is_digit(at(t, p)))
        p++;
    return p;
}

/* Each *_end(t, p) is where its pattern, matched at p, ends; -1 where it does not match. */

static Py_ssize_t number_end(const Text *t, Py_ssize_t p) {  /* \d[\d,]*(?:\.\d+)? */
    if (!is_digit(at(t, p)))
        return -1;
    for (p++; is_digit(at(t, p)) || at(t, p) == ','; p++)
        ;
    if (at(t, p) == '.' && is_digit(at(t, p + 1)))
        p = skip_digits(t, p + 2);
    return p;
}

static Py_ssize_t spaced_end(const Text *t, Py_ssize_t p, Py_ssize_t (*pattern)(const Text *, Py_ssize_t)) {
    /* \s?PATTERN: with the space first, as `re` tries it */
    if (is_space(t, at(t, p))) {
        Py_ssize_t end = pattern(t, p + 1);
        if (end >= 0)
            return end;
    }
    return pattern(t, p);
}

static Py_ssize_t meridiem_end(const Text *t, Py_ssize_t p) {  /* [ap]\.?m\b\.? */
    Py_UCS4 c = at(t, p);
    if (c != 'a' && c != 'p')
        return -1;
    p++;
    if (at(t, p) == '.')
        p++;
    if (at(t, p) != 'm' || is_word(at(t, p + 1)))
        return -1;
    p++;
    return at(t, p) == '.' ? p + 1 : p;
}

static Py_ssize_t word_end(const Text *t, Py_ssize_t p, const char *word) {  /* word\b */
    for (; *word; word++, p++)
        if (at(t, p) != (Py_UCS4)(unsigned char)*word)
            return -1;
    return is_word(at(t, p)) ? -1 : p;
}

static Py_ssize_t unit_end(const Text *t, Py_ssize_t p) {  /* %|€|£|(?:usd|eur|gbp|dollars?|euros?)\b|am/pm */
    static const char *const units[] = {"usd", "eur", "gbp", "dollars", "dollar", "euros", "euro"};
    Py_UCS4 c = at(t, p);
    if (c == '%' || c == 0x20AC || c == 0xA3)
        return p + 1;
    for (size_t i = 0; i < sizeof units / sizeof *units; i++) {
        Py_ssize_t end = word_end(t, p, units[i]);
        if (end >= 0)
            return end;
    }
    return meridiem_end(t, p);
}

static Py_ssize_t clock_end(const Text *t, Py_ssize_t p) {  /* (?::\d{2}){1,2}(?:\s?[ap]\.?m\b\.?)? */
    int groups = 0;
    while (groups < 2 && at(t, p) == ':' && is_digit(at(t, p + 1)) && is_digit(at(t, p + 2))) {
        p += 3;
        groups++;
    }
    if (!groups)
        return -1;
    Py_ssize_t end = spaced_end(t, p, meridiem_end);
    return end >= 0 ? end : p;
}

static Py_ssize_t date_end(const Text *t, Py_ssize_t p) {  /* (?:[-/]\d{1,4}){2} */
    Py_UCS4 c = at(t, p);
    if (c != '-' && c != '/')
        return -1;
    Py_ssize_t digits = skip_digits(t, p + 1) - (p + 1);
    if (digits < 1 || digits > 4)  /* more: the first group's digits could not end at a separator */
        return -1;
    p += 1 + digits;
    c = at(t, p);
    if (c != '-' && c != '/')
        return -1;
    Py_ssize_t start = ++p;
    while (p - start < 4 && is_digit(at(t, p)))
        p++;
    return p > start ? p : -1;
}

static Py_ssize_t token_end(const Text *t, Py_ssize_t i) {
    Py_UCS4 first = at(t, i);
    Py_ssize_t p = i + 1, end;
    if (is_letter(first)) {
        while (is_letter(at(t, p)))
            p++;
        while (at(t, p) == '_' && is_letter(at(t, p + 1)))
            for (p += 2; is_letter(at(t, p)); p++)
                ;
        Py_ssize_t digits_end = skip_digits(t, p);
        return digits_end - p >= 2 && !is_word(at(t, digits_end)) ? digits_end : p;
    }
    if (is_digit(first)) {
        p = skip_digits(t, p);
        while ((at(t, p) == '.' || at(t, p) == ',') && is_digit(at(t, p + 1)))
            p = skip_digits(t, p + 2);
        if ((end = spaced_end(t, p, unit_end)) >= 0 || (end = clock_end(t, p)) >= 0 || (end = date_end(t, p)) >= 0)
            return end;
        return p;
    }
    if (is_currency(first)) {
        if ((end = spaced_end(t, p, number_end)) >= 0)
            return end;
        Py_UCS4 c = at(t, p);
        if (is_ascii_lower(c) || c == '_' || c == '{')  /* $HOME, ${dir} */
            for (p++; is_word(at(t, p)) || at(t, p) == '}'; p++)
                ;
        return p;
    }
    if (first == '\\') {
        if (at(t, p) == '$' && (end = spaced_end(t, p + 1, number_end)) >= 0)
            return end;
        while (is_ascii_lower(at(t, p)))
            p++;
        return p;
    }
    return p;  /* a symbol */
}

typedef struct {
    Py_UCS4 *chars;
    Py_ssize_t length, capacity;
} Line;

static int reserve(Line *line, Py_ssize_t more) {
    if (line->length + more <= line->capacity)
        return 0;
    Py_ssize_t capacity = 2 * line->capacity + more;
    Py_UCS4 *chars = PyMem_Realloc(line->chars, capacity * sizeof(Py_UCS4));
    if (!chars) {
        PyErr_NoMemory();
        return -1;
    }
    line->chars = chars;
    line->capacity = capacity;
    return 0;
}

static int append_ascii(Line *line, const char *word) {
    Py_ssize_t n = (Py_ssize_t)strlen(word);
    if (reserve(line, n))
        return -1;
    for (Py_ssize_t i = 0; i < n; i++)
        line->chars[line->length++] = (Py_UCS4)(unsigned char)word[i];
    return 0;
}

static int append_slice(Line *line, const Text *t, Py_ssize_t start, Py_ssize_t end) {
    if (reserve(line, end - start))
        return -1;
    for (Py_ssize_t i = start; i < end; i++)
        line->chars[line->length++] = at(t, i);
    return 0;
}

static int append_str(Line *line, PyObject *str) {
    if (!PyUnicode_Check(str)) {
        PyErr_Format(PyExc_TypeError, "the token function returned %.100s, not str", Py_TYPE(str)->tp_name);
        return -1;
    }
    Text s = {str, PyUnicode_KIND(str), PyUnicode_DATA(str), PyUnicode_GET_LENGTH(str), 0};
    return append_slice(line, &s, 0, s.length);
}

static int contains(const Text *t, Py_ssize_t start, Py_ssize_t end, Py_UCS4 c) {
    for (Py_ssize_t i = start; i < end; i++)
        if (at(t, i) == c)
            return 1;
    return 0;
}

static int ends_with(const Text *t, Py_ssize_t start, Py_ssize_t end, const char *suffix) {
    Py_ssize_t n = (Py_ssize_t)strlen(suffix);
    if (end - start < n)
        return 0;
    for (Py_ssize_t i = 0; i < n; i++)
        if (at(t, end - n + i) != (Py_UCS4)(unsigned char)suffix[i])
            return 0;
    return 1;
}

/* The special token of a token starting with an ASCII digit, a currency sign or a backslash; NULL:
 * the token stands for itself. */
static const char *special(const Text *t, Py_ssize_t start, Py_ssize_t end) {
    static const char *const charm_cents[] = {".99", ".95", ".49", ".98", ".97"};
    Py_UCS4 first = at(t, start), last = at(t, end - 1);
    if (first == '\\')
        return end - start > 1 && at(t, start + 1) == '$' ? "escapedprice" : NULL;  /* on a page with formulas */
    if (is_currency(first)) {
        if (end - start == 1)
            return "dollar";  /* a sign with no amount: price tiers ($$$), prompts, tickers */
        Py_UCS4 second = at(t, start + 1);
        if (Py_UNICODE_ISALPHA(second) || second == '_' || second == '{')
            return "codevar";  /* $HOME, ${dir} */
        for (size_t i = 0; i < sizeof charm_cents / sizeof *charm_cents; i++)
            if (ends_with(t, start, end, charm_cents[i]))
                return "shopprice";  /* a shop's price ends in .99, .95 or .49; a word problem's rarely */
        return "price";
    }
    if (is_ascii_digit(last)) {
        if (contains(t, start, end, ':'))
            return "clock";
        return contains(t, start, end, '-') || contains(t, start, end, '/') ? "date" : "0";
    }
    if (last == '%')
        return "percent";
    if (last == 'm' || last == '.')
        return "clock";  /* 5pm, 5 p.m. */
    return "price";  /* 20 USD, 100 euros, 15 € */
}

static int is_token(const Text *t, Py_ssize_t start, Py_ssize_t end, const char *word) {
    Py_ssize_t n = (Py_ssize_t)strlen(word);
    if (end - start != n)
        return 0;
    for (Py_ssize_t i = 0; i < n; i++)
        if (at(t, start + i) != (Py_UCS4)(unsigned char)word[i])
            return 0;
    return 1;
}

/* Who speaks (I, you, we) is a page's register, not its topic: the seeds' math is mostly written
 * impersonally, and a model would learn the register. Inside a formula, i stays. By first letter and
 * length first: this runs for every token. */
static int is_person_pronoun(const Text *t, Py_ssize_t start, Py_ssize_t end) {
    Py_ssize_t n = end - start;
    switch (at(t, start)) {
    case 'i':
        return n == 1;
    case 'm':
        return n <= 6 && (is_token(t, start, end, "me") || is_token(t, start, end, "my")
                          || is_token(t, start, end, "mine") || is_token(t, start, end, "myself"));
    case 'y':
        return n >= 3 && n <= 8 && (is_token(t, start, end, "you") || is_token(t, start, end, "your")
                                    || is_token(t, start, end, "yours") || is_token(t, start, end, "yourself"));
    case 'w':
        return n == 2 && at(t, start + 1) == 'e';
    case 'o':
        return n >= 3 && n <= 9 && (is_token(t, start, end, "our") || is_token(t, start, end, "ours")
                                    || is_token(t, start, end, "ourselves"));  /* not us: the US */
    default:
        return 0;
    }
}

static int append_token(Line *line, const Text *t, Py_ssize_t start, Py_ssize_t end, PyObject *compatible) {
    Py_UCS4 first = at(t, start), last = at(t, end - 1);
    if (is_ascii_digit(first) || is_currency(first) || first == '\\') {
        const char *word = special(t, start, end);
        if (word)
            return append_ascii(line, word);
    }
    else if (is_ascii_digit(last))
        return append_ascii(line, "model");
    int ascii = 1;
    for (Py_ssize_t i = start; i < end && ascii; i++)
        ascii = at(t, i) < 128;
    if (ascii)
        return append_slice(line, t, start, end);
    PyObject *token = PyUnicode_Substring(t->object, start, end), *written = NULL;
    int failed = -1;
    if (token && (written = PyObject_CallOneArg(compatible, token)))
        failed = append_str(line, written);
    Py_XDECREF(token);
    Py_XDECREF(written);
    return failed;
}

static PyObject *prose_line(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2 || !PyUnicode_Check(args[0]) || !PyCallable_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "prose_line(text: str, compatible: Callable[[str], str])");
        return NULL;
    }
    PyObject *text = args[0], *compatible = args[1];
    Text t = text_of(text);
    Line line = {NULL, 0, 0};
    if (reserve(&line, t.length + 16))
        return NULL;
    int in_formula = 0;  /* between the mathspan and mathend that preprocess wrote */
    for (Py_ssize_t i = 0; i < t.length;) {
        Py_UCS4 c = at(&t, i);
        if (is_space(&t, c) || is_dropped(c)) {
            i++;
            continue;
        }
        Py_ssize_t end = token_end(&t, i);
        if (c == 'm' && is_token(&t, i, end, in_formula ? "mathend" : "mathspan"))
            in_formula = !in_formula;
        else if (!in_formula && is_person_pronoun(&t, i, end)) {
            i = end;
            continue;
        }
        if (line.length) {
            if (reserve(&line, 1))
                goto failed;
            line.chars[line.length++] = ' ';
        }
        if (append_token(&line, &t, i, end, compatible))
            goto failed;
        i = end;
    }
    PyObject *result = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, line.chars, line.length);
    PyMem_Free(line.chars);
    return result;
failed:
    PyMem_Free(line.chars);
    return NULL;
}

static PyMethodDef methods[] = {
    {"prose_line", (PyCFunction)(void (*)(void))prose_line, METH_FASTCALL,
     "prose_line(text, compatible) -> str: the prose tokens of a marked, lower-cased text as one line; "
     "compatible(token) writes a token that is not ASCII (see the module source)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_prose", "megamath's compiled prose tokenizer.", 0, methods};

PyMODINIT_FUNC PyInit__prose(void) { return PyModule_Create(&module); }
