// An ES module handler: loaded with import().
export const handler = async (event) => ({ via: 'esm', event });
