//! Hostile programs against `while`, `def`/`lambda`, recursion and
//! `try`/`except`/`raise`: runaway loops and recursion end in the limit errors,
//! and no handler can swallow a limit (step budget, wall time, memory caps,
//! recursion depth).

use std::time::{Duration, Instant};

use trutheye_core::Executor;
use trutheye_sandbox::{PvrExecutor, PvrLimits};

use crate::common::*;

#[test]
fn h63_infinite_while_variants() {
    fails("while True:\n    pass", "TimeoutError: step budget exhausted");
    fails("while 1:\n    continue", "TimeoutError: step budget exhausted");
    fails("i = 0\nwhile i < 10:\n    pass", "TimeoutError: step budget exhausted");
    fails("def spin():\n    while True:\n        pass\nspin()", "TimeoutError: step budget exhausted (200000 evaluation steps) (line 3)");
    fails("while True:\n    while True:\n        break", "TimeoutError: step budget exhausted");
}

#[test]
fn h64_try_except_cannot_swallow_the_step_budget() {
    let obs = fails("n = 0\nwhile True:\n    try:\n        n += 1\n    except:\n        pass\nprint('escaped', n)", "TimeoutError: step budget exhausted");
    assert!(!obs.text.contains("escaped"));
    for handler in ["except:", "except Exception:", "except BaseException:", "except TimeoutError:", "except (OSError, Exception) as e:"] {
        let src = format!("while True:\n    try:\n        while True:\n            pass\n    {handler}\n        pass");
        fails(&src, "TimeoutError: step budget exhausted");
    }
    // A handler that itself loops forever is stopped too.
    fails("try:\n    1 / 0\nexcept ZeroDivisionError:\n    while True:\n        pass", "TimeoutError");
}

#[test]
fn h65_finally_does_not_run_after_a_limit() {
    let obs = fails("try:\n    while True:\n        pass\nfinally:\n    print('cleanup')\n    x = 1", "TimeoutError: step budget exhausted");
    assert!(!obs.text.contains("cleanup"));
    let obs = fails("def f():\n    try:\n        return f()\n    finally:\n        print('unwinding')\nf()", "RecursionError");
    assert!(!obs.text.contains("unwinding"));
}

#[test]
fn h66_memory_caps_cannot_be_caught() {
    let obs = fails("try:\n    s = 'a' * 10**9\nexcept:\n    pass\nprint('swallowed')", "MemoryError");
    assert!(!obs.text.contains("swallowed"));
    fails("try:\n    x = [0] * 10**8\nexcept MemoryError:\n    x = []", "MemoryError");
    fails("try:\n    big = image.resize((8000, 8000))\nexcept Exception as e:\n    print(e)", "MemoryError");
    fails("while True:\n    try:\n        s = 'ab' * 10**9\n    except Exception:\n        continue", "MemoryError");
}

#[test]
fn h67_unbounded_and_mutual_recursion() {
    fails("def f(n):\n    return f(n + 1)\nf(0)", "RecursionError: maximum recursion depth exceeded (64 nested function calls) (line 2)");
    fails("def a(n):\n    return b(n + 1)\ndef b(n):\n    return a(n + 1)\nprint(a(0))", "RecursionError: maximum recursion depth exceeded");
    // Recursion is not catchable either: every frame's handler is skipped.
    fails("def f():\n    try:\n        return f()\n    except RecursionError:\n        return 0\n    except:\n        return 1\nprint(f())", "RecursionError: maximum recursion depth exceeded");
    // Exactly at the limit is fine.
    assert_eq!(ok("def depth(n):\n    return 1 if n == 0 else 1 + depth(n - 1)\nprint(depth(63))"), "64");
}

#[test]
fn h68_recursion_through_lambdas_defaults_and_builtins() {
    fails("f = lambda n: f(n + 1)\nf(0)", "RecursionError: maximum recursion depth exceeded");
    fails("def g(x=lambda: g()):\n    return x()\ng()", "RecursionError: maximum recursion depth exceeded");
    fails("def k(v):\n    return sorted([1, 2], key=k)\nk(0)", "RecursionError: maximum recursion depth exceeded");
    fails("def m(v):\n    return list(map(m, [v]))\nm(0)", "RecursionError");
    fails("def f(x=f()):\n    return x", "NameError: name 'f' is not defined (line 1)");
    fails("y = (lambda f: f(f))(lambda f: f(f))", "RecursionError: maximum recursion depth exceeded");
}

#[test]
fn h69_recursion_that_allocates() {
    let t = Instant::now();
    fails("def f(n):\n    x = [0] * 100000\n    return f(n + 1)\nf(0)", "RecursionError: maximum recursion depth exceeded");
    fails("def grow(s):\n    return grow(s + s)\ngrow('ab')", "MemoryError");
    fails("def nest(x):\n    return nest([x, x])\nnest(0)", "RecursionError");
    fails("def wide(n):\n    return [wide(n + 1) for i in range(1000)]\nwide(0)", "RecursionError");
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
}

#[test]
fn h70_deep_expressions_in_every_frame_do_not_overflow_the_stack() {
    let parens = 47;
    let src = format!(
        "def f(n):\n    if n == 0:\n        return 0\n    return {}f(n - 1){}\nprint(f(1000))",
        "(".repeat(parens),
        ")".repeat(parens)
    );
    let (obs, _) = run(&src);
    assert_eq!(obs.error.as_deref(), Some("RecursionError: maximum recursion depth exceeded (64 nested function calls) (line 4)"));
    let src = format!("def f(n):\n    return {}f(n - 1) if n else 0{}\nprint(f(63))", "[".repeat(20), "]".repeat(20));
    let (obs, _) = run(&src);
    assert!(obs.error.as_deref().is_some_and(|e| e.starts_with("RecursionError")), "{}", obs.text);
}

#[test]
fn h71_giant_exception_messages_are_bounded() {
    let obs = fails("raise ValueError('x' * 10**6)", "ValueError: xxxx");
    assert!(obs.text.len() < 1200, "{}", obs.text.len());
    assert!(obs.text.ends_with("... [message truncated] (line 1)"), "{}", &obs.text[obs.text.len() - 60..]);
    fails("raise ValueError('x' * 10**7)", "MemoryError");
    let obs = fails("msg = 'y' * 500000\nfor i in range(100):\n    try:\n        raise KeyError(msg)\n    except KeyError as e:\n        print(e)\nraise RuntimeError(msg)", "RuntimeError: yyy");
    assert!(obs.text.contains("... [output truncated]"));
    assert!(obs.text.len() < 20_000, "{}", obs.text.len());
}

#[test]
fn h72_redefining_builtins_stays_inside_the_sandbox() {
    let t = ok("def print(*args, **kw):\n    return None\nprint('hidden')\nlen = lambda x: 7\nresult = image.crop((0, 0, len([]), 4))\n");
    assert_eq!(t, "[shown as image_clue_1: 7x4]");
    fails("def len(x):\n    return len(x)\nlen([1])", "RecursionError: maximum recursion depth exceeded");
    fails("def __import__(name):\n    return name\nimport os", "ImportError: import of 'os' is not available in the embedded interpreter");
    fails("def open(p):\n    return p\nopen('/etc/passwd').read()", "AttributeError: 'str' object has no attribute 'read'");
    fails("def image():\n    return 1\nimage.crop((0, 0, 1, 1))", "AttributeError: 'function' object has no attribute 'crop'");
    // A redefinition lives in that episode's variables only.
    let mut st = state();
    let mut ex = PvrExecutor::new(PvrLimits::default());
    assert!(ex.execute(&code("def print(x):\n    pass"), &mut st).error.is_none());
    assert_eq!(ex.execute(&code("print('gone')"), &mut st).text, "(no output)");
    assert_eq!(PvrExecutor::default().execute(&code("print('back')"), &mut state()).text, "back");
}

#[test]
fn h73_no_introspection_through_functions_and_exceptions() {
    fails("def f():\n    pass\nf.__code__", "AttributeError: access to '__code__' is not allowed");
    fails("f = lambda: 0\nprint(f.__globals__)", "AttributeError: access to '__globals__' is not allowed");
    fails("try:\n    1 / 0\nexcept Exception as e:\n    e.__traceback__", "AttributeError: access to '__traceback__' is not allowed");
    fails("ValueError.__subclasses__()", "AttributeError: access to '__subclasses__' is not allowed");
    fails("print(f'{ValueError.__mro__}')", "AttributeError");
    fails("def f():\n    pass\nf.x = 1", "SyntaxError: assigning to attributes");
    fails("e = ValueError('x')\ne.args.append(1)", "AttributeError: 'tuple' object has no attribute 'append'");
}

#[test]
fn h74_bad_raises_and_handlers() {
    fails("raise 5", "TypeError: exceptions must derive from BaseException, not 'int'");
    fails("raise", "RuntimeError: No active exception to reraise (line 1)");
    fails("try:\n    1 / 0\nexcept 5:\n    pass", "TypeError: catching classes that do not inherit from BaseException is not allowed (line 3)");
    fails("raise ValueError", "ValueError (line 1)");
    fails("raise KeyError('box')", "KeyError: 'box'");
    fails("raise TypeError('a', 2)", "TypeError: ('a', 2)");
    fails("raise ValueError(msg='x')", "TypeError: ValueError() takes no keyword arguments");
    // An uncaught error from a helper reports the line inside the helper.
    let obs = fails("def bad(img):\n    return img.crop((5, 5, 1, 1))\nbad(image)", "ValueError: Coordinate 'right' is less than 'left'");
    assert!(obs.text.ends_with("(line 2)"), "{}", obs.text);
}

#[test]
fn h75_bad_calls_of_user_functions() {
    fails("def f(a, b=1):\n    return a\nf()", "TypeError: f() missing 1 required positional argument: 'a'");
    fails("def f(a, b):\n    return a\nf()", "TypeError: f() missing 2 required positional arguments: 'a' and 'b'");
    fails("def f(a):\n    return a\nf(1, 2)", "TypeError: f() takes 1 positional argument but 2 were given");
    fails("def f(a):\n    return a\nf(1, a=2)", "TypeError: f() got multiple values for argument 'a'");
    fails("def f(a):\n    return a\nf(b=2)", "TypeError: f() got an unexpected keyword argument 'b'");
    fails("def f(*, k):\n    return k\nf(1)", "TypeError: f() takes 0 positional arguments but 1 was given");
    fails("def f(*a, k):\n    return k\nf(1)", "TypeError: f() missing 1 required keyword-only argument: 'k'");
    fails("x = 1\ndef f():\n    x += 1\nf()", "UnboundLocalError: cannot access local variable 'x' where it is not associated with a value (line 3)");
    fails("def f():\n    break\nf()", "SyntaxError");
}

#[test]
fn h76_closures_copy_and_say_so() {
    // Enclosing locals are captured by value; changing one in place from the
    // inner function is refused rather than silently lost.
    fails("def outer():\n    acc = []\n    def add(v):\n        acc.append(v)\n    add(1)\n    return acc\nouter()", "NotImplementedError: changing 'acc' of an enclosing function in place is not supported");
    fails("def outer():\n    def inner():\n        return later\n    f = inner\n    return f()\nouter()", "NameError: name 'later' is not defined (line 3)");
    // A chain of closures as deep as containers may nest is refused.
    fails("f = lambda: 0\nfor i in range(1000):\n    f = (lambda h: lambda: h())(f)\nf()", "RecursionError");
    fails("g = 0\nfor i in range(200):\n    def g(a=g):\n        return a", "RecursionError");
}

#[test]
fn h77_wall_time_with_while_and_recursion() {
    let limits = PvrLimits { max_steps: u64::MAX, max_wall: Duration::from_millis(200), ..PvrLimits::default() };
    for src in [
        "while True:\n    try:\n        pass\n    except:\n        pass",
        "def f(n):\n    if n > 60:\n        return 0\n    return f(n + 1) + f(n + 1)\nf(0)",
    ] {
        let mut ex = PvrExecutor::new(limits);
        let t = Instant::now();
        let obs = ex.execute(&code(src), &mut state());
        assert!(obs.error.as_deref().is_some_and(|e| e.starts_with("TimeoutError: wall-time limit")), "{}", obs.text);
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    }
}
