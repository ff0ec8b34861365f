//! [`export_plugin!`](crate::export_plugin): the root module a plugin library exports.

/// The exported symbol that holds a plugin's `abi_stable` library header, as
/// `abi_stable`'s `#[export_root_module]` names it. [`export_plugin!`](crate::export_plugin)
/// writes the header itself, because that attribute expands to `::abi_stable::...`
/// paths that would make every plugin depend on `abi_stable` directly; a test
/// checks this name against `abi_stable`'s own.
pub const LIB_HEADER_SYMBOL: &str = "_1as_0lib_1header_0root_bmodule_bloader";

/// Exports a plugin root module. The plugin needs no dependency but
/// `trutheye-plugin-api`.
///
/// ```ignore
/// trutheye_plugin_api::export_plugin! {
///     name: env!("CARGO_PKG_NAME"),
///     version: env!("CARGO_PKG_VERSION"),
///     operators: [MyOperator, MyOtherOperator],
/// }
/// ```
#[macro_export]
macro_rules! export_plugin {
    (name: $name:expr, version: $version:expr, operators: [$($op:ty),* $(,)?] $(,)?) => {
        /// The plugin's root module (what the host's loader calls first).
        pub fn trutheye_plugin_root() -> $crate::abi::PluginModRef {
            use $crate::abi_stable::prefix_type::PrefixTypeTrait;
            extern "C" fn plugin_name() -> $crate::abi_stable::std_types::RString {
                $name.into()
            }
            extern "C" fn plugin_version() -> $crate::abi_stable::std_types::RString {
                $version.into()
            }
            extern "C" fn plugin_operators() -> $crate::abi_stable::std_types::RVec<$crate::abi::AbiOperator> {
                $crate::author::declare_all(vec![$($crate::declare::<$op>()),*])
            }
            $crate::abi::PluginMod {
                name: plugin_name,
                version: plugin_version,
                operators: plugin_operators,
            }
            .leak_into_prefix()
        }

        $crate::export_root_module!(trutheye_plugin_root);
    };
}

/// Exports `$root` (a `fn() -> PluginModRef`) as the plugin's root module: what
/// `#[abi_stable::export_root_module]` expands to, with paths through this crate
/// (see [`LIB_HEADER_SYMBOL`]). [`export_plugin!`](crate::export_plugin) uses it;
/// a plugin that builds its `PluginMod` by hand (the ONNX plugin) calls it directly.
#[macro_export]
macro_rules! export_root_module {
    ($root:path) => {
        #[no_mangle]
        #[allow(non_upper_case_globals)]
        #[doc(hidden)]
        pub static _1as_0lib_1header_0root_bmodule_bloader: $crate::abi_stable::library::LibHeader = {
            extern "C" fn erased_root_module() -> $crate::abi_stable::library::RootModuleResult {
                // The annotation makes a root of any other type a compile error.
                let root: fn() -> $crate::abi::PluginModRef = $root;
                $crate::abi_stable::library::__call_root_module_loader(root)
            }
            type Module = <$crate::abi::PluginModRef as $crate::abi_stable::library::IntoRootModuleResult>::Module;
            // SAFETY: `from_constructor` requires the constructor's erased prefix
            // to come from a `PrefixRef<Module>`; `__call_root_module_loader` erases
            // exactly the `PluginModRef` that `root` returns, as in abi_stable's own
            // macro.
            unsafe {
                $crate::abi_stable::library::LibHeader::from_constructor::<Module>(
                    erased_root_module,
                    $crate::abi_stable::library::CheckTypeLayout::Yes,
                )
            }
        };
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn lib_header_symbol_is_abi_stables() {
        assert_eq!(super::LIB_HEADER_SYMBOL, abi_stable::library::ROOT_MODULE_LOADER_NAME);
    }
}
