// Public API of "switchboard/testing" (fault-injection tools for users' own tests).
export {};
