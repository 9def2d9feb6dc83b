// The import-cycle check CI runs (npm run cycles): no module may reach itself again through its imports,
// dynamic import() and type-only imports included.
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment:
        "Arrows point down: an import cycle means two modules that should be one, or a contract in the wrong place",
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(node_modules|dist|jsr|\\.cache)/" },
    tsPreCompilationDeps: true,
    moduleSystems: ["es6", "cjs"],
    builtInModules: { add: ["bun:ffi", "bun"] },
  },
};
