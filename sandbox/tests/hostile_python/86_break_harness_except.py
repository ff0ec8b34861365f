# attempts: set builtins.BaseException/Exception/len/isinstance to None so the harness's own 'except' and error formatting crash
# category: escape
import builtins

builtins._trutheye_tampered = True  # the host test's follow-up action prints this flag
builtins.BaseException = None  # 'except BaseException' in the harness -> TypeError while handling our error
builtins.Exception = None
builtins.isinstance = None
builtins.len = None
builtins.str = None
raise PermissionError("harness exception handling sabotaged; the host must still report an error and recover")
