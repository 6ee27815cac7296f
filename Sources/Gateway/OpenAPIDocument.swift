/// The OpenAPI 3.1 document of every public route, written by hand (the routes stay Hummingbird
/// handlers with Plume's request context; swift-openapi-generator's handlers would not receive
/// it). `OpenAPITests` checks it against the router: every route is documented and every
/// documented route exists. Served at `GET /v1/openapi.json`.
enum OpenAPIDocument {
    static let json = #"""
        {
          "openapi": "3.1.0",
          "info": {
            "title": "Plume",
            "version": "1",
            "description": "Plume's public HTTP API. Every response carries `X-Request-Id`; every error is `{\"error\": {\"code\", \"message\"}}`."
          },
          "paths": {
            "/health": {
              "get": {
                "operationId": "health",
                "summary": "Liveness",
                "responses": {
                  "200": {
                    "description": "the process is up",
                    "content": {
                      "application/json": {
                        "schema": {
                          "type": "object",
                          "required": [
                            "status"
                          ],
                          "properties": {
                            "status": {
                              "type": "string",
                              "const": "ok"
                            }
                          }
                        }
                      }
                    }
                  }
                }
              }
            },
            "/ready": {
              "get": {
                "operationId": "ready",
                "summary": "Readiness: joined and serving its shards",
                "responses": {
                  "200": {
                    "description": "ready",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Ready"
                        }
                      }
                    }
                  },
                  "503": {
                    "description": "not ready yet",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Ready"
                        }
                      }
                    }
                  }
                }
              }
            },
            "/metrics": {
              "get": {
                "operationId": "metrics",
                "summary": "Prometheus metrics",
                "description": "On the node's admin listener instead when `[[node]] admin` is set.",
                "responses": {
                  "200": {
                    "description": "Prometheus text format",
                    "content": {
                      "text/plain": {
                        "schema": {
                          "type": "string"
                        }
                      }
                    }
                  }
                }
              }
            },
            "/v1/cluster": {
              "get": {
                "operationId": "cluster",
                "summary": "This node's view of the cluster",
                "description": "On the node's admin listener instead when `[[node]] admin` is set.",
                "responses": {
                  "200": {
                    "description": "members and shard table",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Cluster"
                        }
                      }
                    }
                  }
                }
              }
            },
            "/v1/openapi.json": {
              "get": {
                "operationId": "openapi",
                "summary": "This document",
                "responses": {
                  "200": {
                    "description": "the OpenAPI 3.1 document",
                    "content": {
                      "application/json": {
                        "schema": {
                          "type": "object"
                        }
                      }
                    }
                  }
                }
              }
            },
            "/v1/auth/signup": {
              "post": {
                "operationId": "signup",
                "summary": "Create an account and a session",
                "requestBody": {
                  "required": true,
                  "content": {
                    "application/json": {
                      "schema": {
                        "$ref": "#/components/schemas/Signup"
                      }
                    }
                  }
                },
                "responses": {
                  "201": {
                    "$ref": "#/components/responses/Tokens"
                  },
                  "400": {
                    "$ref": "#/components/responses/MalformedJSON"
                  },
                  "413": {
                    "$ref": "#/components/responses/PayloadTooLarge"
                  },
                  "409": {
                    "description": "error codes: `username_taken`, `email_taken`",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "422": {
                    "description": "error codes: `invalid_username`, `invalid_email`, `invalid_password`",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "429": {
                    "$ref": "#/components/responses/RateLimited"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  },
                  "504": {
                    "$ref": "#/components/responses/Timeout"
                  }
                }
              }
            },
            "/v1/auth/login": {
              "post": {
                "operationId": "login",
                "summary": "Open a session with a username or an email and the password",
                "requestBody": {
                  "required": true,
                  "content": {
                    "application/json": {
                      "schema": {
                        "$ref": "#/components/schemas/Login"
                      }
                    }
                  }
                },
                "responses": {
                  "200": {
                    "$ref": "#/components/responses/Tokens"
                  },
                  "400": {
                    "$ref": "#/components/responses/MalformedJSON"
                  },
                  "413": {
                    "$ref": "#/components/responses/PayloadTooLarge"
                  },
                  "401": {
                    "description": "error codes: `invalid_credentials`",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "422": {
                    "description": "error codes: `invalid_username`, `invalid_password`",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "429": {
                    "$ref": "#/components/responses/RateLimited"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  },
                  "504": {
                    "$ref": "#/components/responses/Timeout"
                  }
                }
              }
            },
            "/v1/auth/refresh": {
              "post": {
                "operationId": "refresh",
                "summary": "Rotate a refresh token (presenting an old one revokes its session)",
                "requestBody": {
                  "required": true,
                  "content": {
                    "application/json": {
                      "schema": {
                        "$ref": "#/components/schemas/Refresh"
                      }
                    }
                  }
                },
                "responses": {
                  "200": {
                    "$ref": "#/components/responses/Tokens"
                  },
                  "400": {
                    "$ref": "#/components/responses/MalformedJSON"
                  },
                  "413": {
                    "$ref": "#/components/responses/PayloadTooLarge"
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "422": {
                    "description": "error codes: `invalid_refresh_token`",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "429": {
                    "$ref": "#/components/responses/RateLimited"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  },
                  "504": {
                    "$ref": "#/components/responses/Timeout"
                  }
                }
              }
            },
            "/v1/auth/logout": {
              "post": {
                "operationId": "logout",
                "summary": "End the access token's session",
                "security": [
                  {
                    "bearer": []
                  }
                ],
                "responses": {
                  "204": {
                    "description": "the session is over"
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "429": {
                    "$ref": "#/components/responses/RateLimited"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  },
                  "504": {
                    "$ref": "#/components/responses/Timeout"
                  }
                }
              }
            },
            "/v1/users/me": {
              "get": {
                "operationId": "me",
                "summary": "The caller's account",
                "security": [
                  {
                    "bearer": []
                  }
                ],
                "responses": {
                  "200": {
                    "description": "the account, with its email",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/User"
                        }
                      }
                    }
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  },
                  "504": {
                    "$ref": "#/components/responses/Timeout"
                  }
                }
              },
              "patch": {
                "operationId": "updateProfile",
                "summary": "Change the profile: an absent field stays, `null` clears an optional one",
                "security": [
                  {
                    "bearer": []
                  }
                ],
                "requestBody": {
                  "required": true,
                  "content": {
                    "application/json": {
                      "schema": {
                        "$ref": "#/components/schemas/ProfileChange"
                      }
                    }
                  }
                },
                "responses": {
                  "200": {
                    "description": "the account after the change",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/User"
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/MalformedJSON"
                  },
                  "413": {
                    "$ref": "#/components/responses/PayloadTooLarge"
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "422": {
                    "description": "error codes: `unknown_field`, `invalid_display_name`, `invalid_bio`, `invalid_avatar_url`, `invalid_country`",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "429": {
                    "$ref": "#/components/responses/RateLimited"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  },
                  "504": {
                    "$ref": "#/components/responses/Timeout"
                  }
                }
              }
            },
            "/v1/users/{id}": {
              "get": {
                "operationId": "user",
                "summary": "A user's public profile",
                "parameters": [
                  {
                    "name": "id",
                    "in": "path",
                    "required": true,
                    "schema": {
                      "type": "string"
                    }
                  }
                ],
                "responses": {
                  "200": {
                    "description": "the public profile (no email)",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/User"
                        }
                      }
                    }
                  },
                  "404": {
                    "description": "error codes: `not_found`",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  },
                  "504": {
                    "$ref": "#/components/responses/Timeout"
                  }
                }
              }
            },
            "/v1/friends": {
              "get": {
                "operationId": "friends",
                "summary": "The caller's friends, requests both ways, and the users the caller blocks; friends with their presence",
                "security": [
                  {
                    "bearer": []
                  }
                ],
                "responses": {
                  "200": {
                    "description": "the list",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Friends"
                        }
                      }
                    }
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "429": {
                    "$ref": "#/components/responses/RateLimited"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  },
                  "504": {
                    "$ref": "#/components/responses/Timeout"
                  }
                }
              }
            },
            "/v1/friends/{id}": {
              "post": {
                "operationId": "requestFriend",
                "summary": "Ask a user to be friends, or accept their pending request",
                "security": [
                  {
                    "bearer": []
                  }
                ],
                "parameters": [
                  {
                    "name": "id",
                    "in": "path",
                    "required": true,
                    "description": "a user's id",
                    "schema": {
                      "type": "string"
                    }
                  }
                ],
                "responses": {
                  "200": {
                    "description": "`request_sent`, or `friend` when it accepted their request",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/FriendState"
                        }
                      }
                    }
                  },
                  "404": {
                    "description": "error codes: `not_found` (no such user)",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "409": {
                    "description": "error codes: `blocked` (one of you blocks the other), `friend_limit` (2,000 friends or 200 pending requests, on either side)",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "422": {
                    "description": "error codes: `cannot_friend_self`",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "429": {
                    "$ref": "#/components/responses/RateLimited"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  },
                  "504": {
                    "$ref": "#/components/responses/Timeout"
                  }
                }
              },
              "delete": {
                "operationId": "removeFriend",
                "summary": "Unfriend, cancel a sent request or decline a received one",
                "security": [
                  {
                    "bearer": []
                  }
                ],
                "parameters": [
                  {
                    "name": "id",
                    "in": "path",
                    "required": true,
                    "description": "a user's id",
                    "schema": {
                      "type": "string"
                    }
                  }
                ],
                "responses": {
                  "204": {
                    "description": "done"
                  },
                  "404": {
                    "description": "error codes: `not_found`",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "429": {
                    "$ref": "#/components/responses/RateLimited"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  },
                  "504": {
                    "$ref": "#/components/responses/Timeout"
                  }
                }
              }
            },
            "/v1/friends/{id}/block": {
              "post": {
                "operationId": "blockUser",
                "summary": "Block a user: no link, no presence either way, no messages",
                "security": [
                  {
                    "bearer": []
                  }
                ],
                "parameters": [
                  {
                    "name": "id",
                    "in": "path",
                    "required": true,
                    "description": "a user's id",
                    "schema": {
                      "type": "string"
                    }
                  }
                ],
                "responses": {
                  "200": {
                    "description": "`blocked`",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/FriendState"
                        }
                      }
                    }
                  },
                  "404": {
                    "description": "error codes: `not_found` (no such user)",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "422": {
                    "description": "error codes: `cannot_friend_self`",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "429": {
                    "$ref": "#/components/responses/RateLimited"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  },
                  "504": {
                    "$ref": "#/components/responses/Timeout"
                  }
                }
              },
              "delete": {
                "operationId": "unblockUser",
                "summary": "Unblock a user (no link comes back)",
                "security": [
                  {
                    "bearer": []
                  }
                ],
                "parameters": [
                  {
                    "name": "id",
                    "in": "path",
                    "required": true,
                    "description": "a user's id",
                    "schema": {
                      "type": "string"
                    }
                  }
                ],
                "responses": {
                  "204": {
                    "description": "done"
                  },
                  "404": {
                    "description": "error codes: `not_found`",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "429": {
                    "$ref": "#/components/responses/RateLimited"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  },
                  "504": {
                    "$ref": "#/components/responses/Timeout"
                  }
                }
              }
            },
            "/v1/presence/{id}": {
              "get": {
                "operationId": "presence",
                "summary": "The presence of the caller or of a friend",
                "security": [
                  {
                    "bearer": []
                  }
                ],
                "parameters": [
                  {
                    "name": "id",
                    "in": "path",
                    "required": true,
                    "description": "a user's id",
                    "schema": {
                      "type": "string"
                    }
                  }
                ],
                "responses": {
                  "200": {
                    "description": "the presence as the caller sees it (`invisible` shows as `offline` to friends)",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Presence"
                        }
                      }
                    }
                  },
                  "404": {
                    "description": "error codes: `not_found` (not the caller, not a friend)",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "429": {
                    "$ref": "#/components/responses/RateLimited"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  },
                  "504": {
                    "$ref": "#/components/responses/Timeout"
                  }
                }
              }
            },
            "/v1/messages/{id}": {
              "post": {
                "operationId": "sendMessage",
                "summary": "Send a direct message to a friend",
                "security": [
                  {
                    "bearer": []
                  }
                ],
                "parameters": [
                  {
                    "name": "id",
                    "in": "path",
                    "required": true,
                    "description": "the friend's user id",
                    "schema": {
                      "type": "string"
                    }
                  }
                ],
                "requestBody": {
                  "required": true,
                  "content": {
                    "application/json": {
                      "schema": {
                        "$ref": "#/components/schemas/SendMessage"
                      }
                    }
                  }
                },
                "responses": {
                  "201": {
                    "description": "the message sent; a `message` notification for a recipient with no socket",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/MessageEnvelope"
                        }
                      }
                    }
                  },
                  "403": {
                    "description": "error codes: `not_friends` (also when one blocks the other)",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "404": {
                    "description": "error codes: `not_found`",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "422": {
                    "description": "error codes: `invalid_text` (empty, only spaces, or over 4 KiB), `unknown_field`",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/MalformedJSON"
                  },
                  "413": {
                    "$ref": "#/components/responses/PayloadTooLarge"
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "429": {
                    "$ref": "#/components/responses/RateLimited"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  },
                  "504": {
                    "$ref": "#/components/responses/Timeout"
                  }
                }
              },
              "get": {
                "operationId": "messages",
                "summary": "The conversation with a user, newest first",
                "security": [
                  {
                    "bearer": []
                  }
                ],
                "parameters": [
                  {
                    "name": "id",
                    "in": "path",
                    "required": true,
                    "description": "the other user's id",
                    "schema": {
                      "type": "string"
                    }
                  },
                  {
                    "name": "before",
                    "in": "query",
                    "required": false,
                    "description": "the `next_cursor` of the previous page: messages older than it",
                    "schema": {
                      "type": "string",
                      "pattern": "^[0-9]{1,20}$"
                    }
                  },
                  {
                    "name": "limit",
                    "in": "query",
                    "required": false,
                    "description": "1 to 100 (default 50)",
                    "schema": {
                      "type": "integer",
                      "minimum": 1,
                      "maximum": 100
                    }
                  }
                ],
                "responses": {
                  "200": {
                    "description": "a page of messages",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Messages"
                        }
                      }
                    }
                  },
                  "404": {
                    "description": "error codes: `not_found`",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "422": {
                    "description": "error codes: `invalid_before`, `invalid_limit`",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "429": {
                    "$ref": "#/components/responses/RateLimited"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  },
                  "504": {
                    "$ref": "#/components/responses/Timeout"
                  }
                }
              }
            },
            "/v1/notifications": {
              "get": {
                "operationId": "notifications",
                "summary": "The caller's notifications, newest first",
                "security": [
                  {
                    "bearer": []
                  }
                ],
                "parameters": [
                  {
                    "name": "cursor",
                    "in": "query",
                    "required": false,
                    "description": "the `next_cursor` of the previous page: notifications older than it",
                    "schema": {
                      "type": "string",
                      "pattern": "^[0-9]{1,20}$"
                    }
                  },
                  {
                    "name": "limit",
                    "in": "query",
                    "required": false,
                    "description": "1 to 100 (default 50)",
                    "schema": {
                      "type": "integer",
                      "minimum": 1,
                      "maximum": 100
                    }
                  }
                ],
                "responses": {
                  "200": {
                    "description": "a page of notifications",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Notifications"
                        }
                      }
                    }
                  },
                  "422": {
                    "description": "error codes: `invalid_cursor`, `invalid_limit`",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "429": {
                    "$ref": "#/components/responses/RateLimited"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  },
                  "504": {
                    "$ref": "#/components/responses/Timeout"
                  }
                }
              }
            },
            "/v1/notifications/read": {
              "post": {
                "operationId": "markNotificationsRead",
                "summary": "Mark notifications read",
                "security": [
                  {
                    "bearer": []
                  }
                ],
                "requestBody": {
                  "required": true,
                  "content": {
                    "application/json": {
                      "schema": {
                        "$ref": "#/components/schemas/NotificationIds"
                      }
                    }
                  }
                },
                "responses": {
                  "204": {
                    "description": "done"
                  },
                  "422": {
                    "description": "error codes: `invalid_ids`, `unknown_field`",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/MalformedJSON"
                  },
                  "413": {
                    "$ref": "#/components/responses/PayloadTooLarge"
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "429": {
                    "$ref": "#/components/responses/RateLimited"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  },
                  "504": {
                    "$ref": "#/components/responses/Timeout"
                  }
                }
              }
            },
            "/v1/notifications/{id}": {
              "delete": {
                "operationId": "deleteNotification",
                "summary": "Delete a notification",
                "security": [
                  {
                    "bearer": []
                  }
                ],
                "parameters": [
                  {
                    "name": "id",
                    "in": "path",
                    "required": true,
                    "description": "a notification's id",
                    "schema": {
                      "type": "string"
                    }
                  }
                ],
                "responses": {
                  "204": {
                    "description": "done"
                  },
                  "404": {
                    "description": "error codes: `not_found`",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "429": {
                    "$ref": "#/components/responses/RateLimited"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  },
                  "504": {
                    "$ref": "#/components/responses/Timeout"
                  }
                }
              }
            },
            "/v1/ws": {
              "get": {
                "operationId": "webSocket",
                "summary": "The real-time edge: a WebSocket (see the RealtimeProtocol DocC article for its frames)",
                "description": "Upgrade with `Connection: Upgrade`, `Upgrade: websocket` and the access token as a bearer header or `?token=`. The first frame is the push `welcome`; requests are `{\"op\",\"id\",\"data\"}`, replies `{\"id\",\"ok\",\"data\"|\"error\"}`, pushes `{\"push\",\"data\"}`.",
                "security": [
                  {
                    "bearer": []
                  }
                ],
                "parameters": [
                  {
                    "name": "token",
                    "in": "query",
                    "required": false,
                    "description": "the access token, for clients that cannot set headers on a WebSocket",
                    "schema": {
                      "type": "string"
                    }
                  }
                ],
                "responses": {
                  "101": {
                    "description": "switched to the WebSocket protocol"
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "426": {
                    "description": "error codes: `upgrade_required` (a valid token, but no WebSocket upgrade)",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  },
                  "504": {
                    "$ref": "#/components/responses/Timeout"
                  }
                }
              }
            },
            "/v1/lobbies": {
              "post": {
                "operationId": "createLobby",
                "summary": "Create a lobby; the caller is its owner and first member",
                "security": [
                  {
                    "bearer": []
                  }
                ],
                "requestBody": {
                  "required": true,
                  "content": {
                    "application/json": {
                      "schema": {
                        "$ref": "#/components/schemas/CreateLobby"
                      }
                    }
                  }
                },
                "responses": {
                  "201": {
                    "description": "the lobby",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/LobbyEnvelope"
                        }
                      }
                    }
                  },
                  "422": {
                    "description": "error codes: `invalid_type`, `invalid_max_members` (2-250), `invalid_data` (8 KiB in all, keys 1-64 bytes), `unknown_field`",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/MalformedJSON"
                  },
                  "413": {
                    "$ref": "#/components/responses/PayloadTooLarge"
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "429": {
                    "$ref": "#/components/responses/RateLimited"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  },
                  "504": {
                    "$ref": "#/components/responses/Timeout"
                  }
                }
              }
            },
            "/v1/lobbies/search": {
              "post": {
                "operationId": "searchLobbies",
                "summary": "Search the listed lobbies across the cluster: public and invisible, joinable, with free seats",
                "security": [
                  {
                    "bearer": []
                  }
                ],
                "requestBody": {
                  "required": true,
                  "content": {
                    "application/json": {
                      "schema": {
                        "$ref": "#/components/schemas/LobbySearch"
                      }
                    }
                  }
                },
                "responses": {
                  "200": {
                    "description": "the first `limit` lobbies in order (nearest first with `near`, else newest) and how many matched",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/LobbySearchResult"
                        }
                      }
                    }
                  },
                  "422": {
                    "description": "error codes: `invalid_filters`, `invalid_slots_available`, `invalid_limit` (1-50), `unknown_field`",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/MalformedJSON"
                  },
                  "413": {
                    "$ref": "#/components/responses/PayloadTooLarge"
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "429": {
                    "$ref": "#/components/responses/RateLimited"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  },
                  "504": {
                    "$ref": "#/components/responses/Timeout"
                  }
                }
              }
            },
            "/v1/lobbies/{id}": {
              "get": {
                "operationId": "getLobby",
                "summary": "A lobby: for its members, and for anyone when it is public",
                "security": [
                  {
                    "bearer": []
                  }
                ],
                "parameters": [
                  {
                    "name": "id",
                    "in": "path",
                    "required": true,
                    "description": "a lobby's id",
                    "schema": {
                      "type": "string"
                    }
                  }
                ],
                "responses": {
                  "200": {
                    "description": "the lobby",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/LobbyEnvelope"
                        }
                      }
                    }
                  },
                  "404": {
                    "description": "error codes: `not_found` (no such lobby, or one you may not see)",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "429": {
                    "$ref": "#/components/responses/RateLimited"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  },
                  "504": {
                    "$ref": "#/components/responses/Timeout"
                  }
                }
              },
              "patch": {
                "operationId": "updateLobby",
                "summary": "Change a lobby (owner only): data merges key by key, an empty value deletes a key",
                "security": [
                  {
                    "bearer": []
                  }
                ],
                "parameters": [
                  {
                    "name": "id",
                    "in": "path",
                    "required": true,
                    "description": "a lobby's id",
                    "schema": {
                      "type": "string"
                    }
                  }
                ],
                "requestBody": {
                  "required": true,
                  "content": {
                    "application/json": {
                      "schema": {
                        "$ref": "#/components/schemas/UpdateLobby"
                      }
                    }
                  }
                },
                "responses": {
                  "200": {
                    "description": "the lobby",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/LobbyEnvelope"
                        }
                      }
                    }
                  },
                  "403": {
                    "description": "error codes: `not_owner`",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "404": {
                    "description": "error codes: `not_found` (no such lobby, or one you may not see)",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "422": {
                    "description": "error codes: `invalid_type`, `invalid_max_members`, `invalid_data`, `unknown_field`",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/MalformedJSON"
                  },
                  "413": {
                    "$ref": "#/components/responses/PayloadTooLarge"
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "429": {
                    "$ref": "#/components/responses/RateLimited"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  },
                  "504": {
                    "$ref": "#/components/responses/Timeout"
                  }
                }
              }
            },
            "/v1/lobbies/{id}/join": {
              "post": {
                "operationId": "joinLobby",
                "summary": "Join a lobby",
                "security": [
                  {
                    "bearer": []
                  }
                ],
                "parameters": [
                  {
                    "name": "id",
                    "in": "path",
                    "required": true,
                    "description": "a lobby's id",
                    "schema": {
                      "type": "string"
                    }
                  }
                ],
                "responses": {
                  "200": {
                    "description": "the lobby",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/LobbyEnvelope"
                        }
                      }
                    }
                  },
                  "403": {
                    "description": "error codes: `not_joinable`, `banned`, `not_invited` (private, or friends-only and not the owner's friend)",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "404": {
                    "description": "error codes: `not_found` (no such lobby, or one you may not see)",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "409": {
                    "description": "error codes: `lobby_full` (seats held for invitees count)",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "429": {
                    "$ref": "#/components/responses/RateLimited"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  },
                  "504": {
                    "$ref": "#/components/responses/Timeout"
                  }
                }
              }
            },
            "/v1/lobbies/{id}/leave": {
              "post": {
                "operationId": "leaveLobby",
                "summary": "Leave a lobby; an owner who leaves hands it to the longest-present member",
                "security": [
                  {
                    "bearer": []
                  }
                ],
                "parameters": [
                  {
                    "name": "id",
                    "in": "path",
                    "required": true,
                    "description": "a lobby's id",
                    "schema": {
                      "type": "string"
                    }
                  }
                ],
                "responses": {
                  "204": {
                    "description": "left (or was not a member)"
                  },
                  "404": {
                    "description": "error codes: `not_found` (no such lobby, or one you may not see)",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "429": {
                    "$ref": "#/components/responses/RateLimited"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  },
                  "504": {
                    "$ref": "#/components/responses/Timeout"
                  }
                }
              }
            },
            "/v1/lobbies/{id}/members/me": {
              "put": {
                "operationId": "setLobbyMember",
                "summary": "Set the caller's member data (merged key by key) and ready flag",
                "security": [
                  {
                    "bearer": []
                  }
                ],
                "parameters": [
                  {
                    "name": "id",
                    "in": "path",
                    "required": true,
                    "description": "a lobby's id",
                    "schema": {
                      "type": "string"
                    }
                  }
                ],
                "requestBody": {
                  "required": true,
                  "content": {
                    "application/json": {
                      "schema": {
                        "$ref": "#/components/schemas/MemberChange"
                      }
                    }
                  }
                },
                "responses": {
                  "200": {
                    "description": "the lobby",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/LobbyEnvelope"
                        }
                      }
                    }
                  },
                  "403": {
                    "description": "error codes: `not_member`",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "404": {
                    "description": "error codes: `not_found` (no such lobby, or one you may not see)",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "422": {
                    "description": "error codes: `invalid_data`, `unknown_field`",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/MalformedJSON"
                  },
                  "413": {
                    "$ref": "#/components/responses/PayloadTooLarge"
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "429": {
                    "$ref": "#/components/responses/RateLimited"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  },
                  "504": {
                    "$ref": "#/components/responses/Timeout"
                  }
                }
              }
            },
            "/v1/lobbies/{id}/kick": {
              "post": {
                "operationId": "kickLobbyMember",
                "summary": "Remove a member (owner only)",
                "security": [
                  {
                    "bearer": []
                  }
                ],
                "parameters": [
                  {
                    "name": "id",
                    "in": "path",
                    "required": true,
                    "description": "a lobby's id",
                    "schema": {
                      "type": "string"
                    }
                  }
                ],
                "requestBody": {
                  "required": true,
                  "content": {
                    "application/json": {
                      "schema": {
                        "$ref": "#/components/schemas/UserRef"
                      }
                    }
                  }
                },
                "responses": {
                  "200": {
                    "description": "the lobby",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/LobbyEnvelope"
                        }
                      }
                    }
                  },
                  "404": {
                    "description": "error codes: `not_found` (no such lobby or user)",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "422": {
                    "description": "error codes: `invalid_user_id`, `unknown_field`",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "403": {
                    "description": "error codes: `not_owner`, `not_member`",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/MalformedJSON"
                  },
                  "413": {
                    "$ref": "#/components/responses/PayloadTooLarge"
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "429": {
                    "$ref": "#/components/responses/RateLimited"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  },
                  "504": {
                    "$ref": "#/components/responses/Timeout"
                  }
                }
              }
            },
            "/v1/lobbies/{id}/ban": {
              "post": {
                "operationId": "banLobbyUser",
                "summary": "Remove a member, or anyone, for good (owner only)",
                "security": [
                  {
                    "bearer": []
                  }
                ],
                "parameters": [
                  {
                    "name": "id",
                    "in": "path",
                    "required": true,
                    "description": "a lobby's id",
                    "schema": {
                      "type": "string"
                    }
                  }
                ],
                "requestBody": {
                  "required": true,
                  "content": {
                    "application/json": {
                      "schema": {
                        "$ref": "#/components/schemas/UserRef"
                      }
                    }
                  }
                },
                "responses": {
                  "200": {
                    "description": "the lobby",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/LobbyEnvelope"
                        }
                      }
                    }
                  },
                  "404": {
                    "description": "error codes: `not_found` (no such lobby or user)",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "422": {
                    "description": "error codes: `invalid_user_id`, `unknown_field`",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "403": {
                    "description": "error codes: `not_owner`",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/MalformedJSON"
                  },
                  "413": {
                    "$ref": "#/components/responses/PayloadTooLarge"
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "429": {
                    "$ref": "#/components/responses/RateLimited"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  },
                  "504": {
                    "$ref": "#/components/responses/Timeout"
                  }
                }
              }
            },
            "/v1/lobbies/{id}/invite": {
              "post": {
                "operationId": "inviteToLobby",
                "summary": "Invite a user (owner only): a seat held for `[lobbies] seat_hold_ms`, a `lobby_invite` notification and push",
                "security": [
                  {
                    "bearer": []
                  }
                ],
                "parameters": [
                  {
                    "name": "id",
                    "in": "path",
                    "required": true,
                    "description": "a lobby's id",
                    "schema": {
                      "type": "string"
                    }
                  }
                ],
                "requestBody": {
                  "required": true,
                  "content": {
                    "application/json": {
                      "schema": {
                        "$ref": "#/components/schemas/UserRef"
                      }
                    }
                  }
                },
                "responses": {
                  "200": {
                    "description": "the lobby",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/LobbyEnvelope"
                        }
                      }
                    }
                  },
                  "404": {
                    "description": "error codes: `not_found` (no such lobby or user)",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "422": {
                    "description": "error codes: `invalid_user_id`, `unknown_field`",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "403": {
                    "description": "error codes: `not_owner`, `banned`",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "409": {
                    "description": "error codes: `lobby_full`",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/MalformedJSON"
                  },
                  "413": {
                    "$ref": "#/components/responses/PayloadTooLarge"
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "429": {
                    "$ref": "#/components/responses/RateLimited"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  },
                  "504": {
                    "$ref": "#/components/responses/Timeout"
                  }
                }
              }
            },
            "/v1/lobbies/{id}/owner": {
              "post": {
                "operationId": "transferLobby",
                "summary": "Hand the lobby to another member (owner only)",
                "security": [
                  {
                    "bearer": []
                  }
                ],
                "parameters": [
                  {
                    "name": "id",
                    "in": "path",
                    "required": true,
                    "description": "a lobby's id",
                    "schema": {
                      "type": "string"
                    }
                  }
                ],
                "requestBody": {
                  "required": true,
                  "content": {
                    "application/json": {
                      "schema": {
                        "$ref": "#/components/schemas/UserRef"
                      }
                    }
                  }
                },
                "responses": {
                  "200": {
                    "description": "the lobby",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/LobbyEnvelope"
                        }
                      }
                    }
                  },
                  "404": {
                    "description": "error codes: `not_found` (no such lobby or user)",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "422": {
                    "description": "error codes: `invalid_user_id`, `unknown_field`",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "403": {
                    "description": "error codes: `not_owner`, `not_member`",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/MalformedJSON"
                  },
                  "413": {
                    "$ref": "#/components/responses/PayloadTooLarge"
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "429": {
                    "$ref": "#/components/responses/RateLimited"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  },
                  "504": {
                    "$ref": "#/components/responses/Timeout"
                  }
                }
              }
            },
            "/v1/lobbies/{id}/start": {
              "post": {
                "operationId": "startLobby",
                "summary": "Start the game (owner only) on the next game server of `[lobbies] game_servers`; refused while a member is not ready unless `force`",
                "security": [
                  {
                    "bearer": []
                  }
                ],
                "parameters": [
                  {
                    "name": "id",
                    "in": "path",
                    "required": true,
                    "description": "a lobby's id",
                    "schema": {
                      "type": "string"
                    }
                  }
                ],
                "requestBody": {
                  "required": false,
                  "content": {
                    "application/json": {
                      "schema": {
                        "$ref": "#/components/schemas/StartLobby"
                      }
                    }
                  }
                },
                "responses": {
                  "200": {
                    "description": "the lobby and its game server",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/StartedLobby"
                        }
                      }
                    }
                  },
                  "403": {
                    "description": "error codes: `not_owner`",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "404": {
                    "description": "error codes: `not_found` (no such lobby, or one you may not see)",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "409": {
                    "description": "error codes: `not_ready`",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "422": {
                    "description": "error codes: `unknown_field`",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/MalformedJSON"
                  },
                  "413": {
                    "$ref": "#/components/responses/PayloadTooLarge"
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "429": {
                    "$ref": "#/components/responses/RateLimited"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  },
                  "504": {
                    "$ref": "#/components/responses/Timeout"
                  }
                }
              }
            },
            "/v1/matchmaking/tickets": {
              "post": {
                "operationId": "createTicket",
                "summary": "Queue a ticket: alone, for a party's lobby (`party_lobby_id`, owner only), or for a started lobby's open seats (`backfill_lobby_id`). An `Idempotency-Key` header makes a retry return the same ticket",
                "security": [
                  {
                    "bearer": []
                  }
                ],
                "parameters": [
                  {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": false,
                    "description": "a key for a request the client may retry: the same key gives the same ticket",
                    "schema": {
                      "type": "string"
                    }
                  }
                ],
                "requestBody": {
                  "required": true,
                  "content": {
                    "application/json": {
                      "schema": {
                        "$ref": "#/components/schemas/CreateTicket"
                      }
                    }
                  }
                },
                "responses": {
                  "201": {
                    "description": "the ticket: `queued`, or `matched` when it completed a match",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/TicketEnvelope"
                        }
                      }
                    }
                  },
                  "403": {
                    "description": "error codes: `not_owner`",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "404": {
                    "description": "error codes: `not_found` (no such lobby)",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "409": {
                    "description": "error codes: `already_queued` (a player of the ticket has a live ticket in this queue), `lobby_full`",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "422": {
                    "description": "error codes: `invalid_queue`, `invalid_skill`, `invalid_count_min`, `invalid_count_multiple`, `invalid_teams`, `invalid_latency_ms`, `invalid_tags`, `invalid_party_lobby_id`, `invalid_idempotency_key`, `unknown_field`",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "429": {
                    "$ref": "#/components/responses/RateLimited"
                  },
                  "400": {
                    "$ref": "#/components/responses/MalformedJSON"
                  },
                  "413": {
                    "$ref": "#/components/responses/PayloadTooLarge"
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  },
                  "504": {
                    "$ref": "#/components/responses/Timeout"
                  }
                }
              }
            },
            "/v1/matchmaking/tickets/{id}": {
              "get": {
                "operationId": "getTicket",
                "summary": "A ticket of the caller's",
                "security": [
                  {
                    "bearer": []
                  }
                ],
                "parameters": [
                  {
                    "name": "id",
                    "in": "path",
                    "required": true,
                    "description": "a ticket's id",
                    "schema": {
                      "type": "string"
                    }
                  }
                ],
                "responses": {
                  "200": {
                    "description": "the ticket",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/TicketEnvelope"
                        }
                      }
                    }
                  },
                  "404": {
                    "description": "error codes: `not_found`",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "429": {
                    "$ref": "#/components/responses/RateLimited"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  },
                  "504": {
                    "$ref": "#/components/responses/Timeout"
                  }
                }
              },
              "delete": {
                "operationId": "cancelTicket",
                "summary": "Cancel a queued ticket",
                "security": [
                  {
                    "bearer": []
                  }
                ],
                "parameters": [
                  {
                    "name": "id",
                    "in": "path",
                    "required": true,
                    "description": "a ticket's id",
                    "schema": {
                      "type": "string"
                    }
                  }
                ],
                "responses": {
                  "204": {
                    "description": "cancelled (or it had ended)"
                  },
                  "404": {
                    "description": "error codes: `not_found`",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "409": {
                    "description": "error codes: `already_matched`",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "429": {
                    "$ref": "#/components/responses/RateLimited"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  },
                  "504": {
                    "$ref": "#/components/responses/Timeout"
                  }
                }
              }
            },
            "/v1/matchmaking/queues/{queue}": {
              "get": {
                "operationId": "getQueue",
                "summary": "A queue's figures: tickets waiting and the waits of the last 1,000 matched",
                "security": [
                  {
                    "bearer": []
                  }
                ],
                "parameters": [
                  {
                    "name": "queue",
                    "in": "path",
                    "required": true,
                    "description": "a queue's name",
                    "schema": {
                      "type": "string"
                    }
                  }
                ],
                "responses": {
                  "200": {
                    "description": "the figures",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Queue"
                        }
                      }
                    }
                  },
                  "422": {
                    "description": "error codes: `invalid_queue`",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "429": {
                    "$ref": "#/components/responses/RateLimited"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  },
                  "504": {
                    "$ref": "#/components/responses/Timeout"
                  }
                }
              }
            }
          },
          "components": {
            "responses": {
              "Unavailable": {
                "description": "`overloaded` (with `Retry-After`: nothing was applied, retry shortly) or `unavailable` (no primary yet, node stopping)",
                "headers": {
                  "Retry-After": {
                    "schema": {
                      "type": "integer"
                    },
                    "description": "seconds, with `overloaded`"
                  }
                },
                "content": {
                  "application/json": {
                    "schema": {
                      "$ref": "#/components/schemas/Error"
                    }
                  }
                }
              },
              "Timeout": {
                "description": "`timeout`: no answer in time; a write may or may not have been applied",
                "content": {
                  "application/json": {
                    "schema": {
                      "$ref": "#/components/schemas/Error"
                    }
                  }
                }
              },
              "MalformedJSON": {
                "description": "error codes: `malformed_json`",
                "content": {
                  "application/json": {
                    "schema": {
                      "$ref": "#/components/schemas/Error"
                    }
                  }
                }
              },
              "PayloadTooLarge": {
                "description": "error codes: `payload_too_large`",
                "content": {
                  "application/json": {
                    "schema": {
                      "$ref": "#/components/schemas/Error"
                    }
                  }
                }
              },
              "RateLimited": {
                "description": "`rate_limited` (per client address on sign-up, login and refresh; per user on every write) or `too_many_failed_logins`, with `Retry-After`",
                "headers": {
                  "Retry-After": {
                    "schema": {
                      "type": "integer"
                    }
                  }
                },
                "content": {
                  "application/json": {
                    "schema": {
                      "$ref": "#/components/schemas/Error"
                    }
                  }
                }
              },
              "Unauthorized": {
                "description": "error codes: `unauthorized`",
                "content": {
                  "application/json": {
                    "schema": {
                      "$ref": "#/components/schemas/Error"
                    }
                  }
                }
              },
              "Tokens": {
                "description": "the account and its new tokens (`Cache-Control: no-store`)",
                "headers": {
                  "Cache-Control": {
                    "schema": {
                      "type": "string",
                      "const": "no-store"
                    }
                  }
                },
                "content": {
                  "application/json": {
                    "schema": {
                      "$ref": "#/components/schemas/Tokens"
                    }
                  }
                }
              }
            },
            "securitySchemes": {
              "bearer": {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT"
              }
            },
            "schemas": {
              "Error": {
                "type": "object",
                "required": [
                  "error"
                ],
                "properties": {
                  "error": {
                    "type": "object",
                    "required": [
                      "code",
                      "message"
                    ],
                    "properties": {
                      "code": {
                        "type": "string",
                        "pattern": "^[a-z0-9_]+$"
                      },
                      "message": {
                        "type": "string"
                      }
                    }
                  }
                }
              },
              "Ready": {
                "type": "object",
                "required": [
                  "ready",
                  "node"
                ],
                "properties": {
                  "ready": {
                    "type": "boolean"
                  },
                  "node": {
                    "type": "string"
                  }
                }
              },
              "User": {
                "type": "object",
                "required": [
                  "id",
                  "username",
                  "display_name",
                  "bio",
                  "created_at"
                ],
                "properties": {
                  "id": {
                    "type": "string"
                  },
                  "username": {
                    "type": "string"
                  },
                  "email": {
                    "type": "string"
                  },
                  "display_name": {
                    "type": "string"
                  },
                  "bio": {
                    "type": "string"
                  },
                  "avatar_url": {
                    "type": "string"
                  },
                  "country": {
                    "type": "string"
                  },
                  "created_at": {
                    "type": "string",
                    "format": "date-time"
                  }
                }
              },
              "Tokens": {
                "type": "object",
                "required": [
                  "user",
                  "access_token",
                  "refresh_token",
                  "expires_in",
                  "token_type"
                ],
                "properties": {
                  "user": {
                    "$ref": "#/components/schemas/User"
                  },
                  "access_token": {
                    "type": "string"
                  },
                  "refresh_token": {
                    "type": "string"
                  },
                  "expires_in": {
                    "type": "integer"
                  },
                  "token_type": {
                    "type": "string",
                    "const": "Bearer"
                  }
                }
              },
              "Signup": {
                "type": "object",
                "required": [
                  "username",
                  "email",
                  "password"
                ],
                "properties": {
                  "username": {
                    "type": "string",
                    "minLength": 3,
                    "maxLength": 32
                  },
                  "email": {
                    "type": "string"
                  },
                  "password": {
                    "type": "string",
                    "minLength": 8
                  }
                }
              },
              "Login": {
                "type": "object",
                "required": [
                  "password"
                ],
                "properties": {
                  "username": {
                    "type": "string"
                  },
                  "email": {
                    "type": "string"
                  },
                  "password": {
                    "type": "string"
                  }
                }
              },
              "Refresh": {
                "type": "object",
                "required": [
                  "refresh_token"
                ],
                "properties": {
                  "refresh_token": {
                    "type": "string"
                  }
                }
              },
              "ProfileChange": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                  "display_name": {
                    "type": "string"
                  },
                  "bio": {
                    "type": "string"
                  },
                  "avatar_url": {
                    "type": [
                      "string",
                      "null"
                    ]
                  },
                  "country": {
                    "type": [
                      "string",
                      "null"
                    ]
                  }
                }
              },
              "Cluster": {
                "type": "object",
                "required": [
                  "node",
                  "ready",
                  "members",
                  "shards"
                ],
                "properties": {
                  "node": {
                    "type": "string"
                  },
                  "ready": {
                    "type": "boolean"
                  },
                  "members": {
                    "type": "array",
                    "items": {
                      "type": "object",
                      "required": [
                        "id",
                        "cluster_addr",
                        "status",
                        "incarnation"
                      ],
                      "properties": {
                        "id": {
                          "type": "string"
                        },
                        "cluster_addr": {
                          "type": "string"
                        },
                        "http_addr": {
                          "type": "string"
                        },
                        "status": {
                          "type": "string",
                          "enum": [
                            "alive",
                            "suspect",
                            "dead",
                            "left"
                          ]
                        },
                        "incarnation": {
                          "type": "integer"
                        }
                      }
                    }
                  },
                  "shards": {
                    "type": "object",
                    "required": [
                      "count",
                      "replication",
                      "table"
                    ],
                    "properties": {
                      "count": {
                        "type": "integer"
                      },
                      "replication": {
                        "type": "integer"
                      },
                      "table": {
                        "type": "array",
                        "items": {
                          "type": "object",
                          "required": [
                            "shard",
                            "replicas"
                          ],
                          "properties": {
                            "shard": {
                              "type": "integer"
                            },
                            "replicas": {
                              "type": "array",
                              "items": {
                                "type": "string"
                              }
                            },
                            "primary": {
                              "type": "string"
                            }
                          }
                        }
                      }
                    }
                  }
                }
              },
              "Presence": {
                "type": "object",
                "description": "P: a user's presence as the caller sees it",
                "required": [
                  "user_id",
                  "status",
                  "rich",
                  "updated_at"
                ],
                "properties": {
                  "user_id": {
                    "type": "string"
                  },
                  "status": {
                    "type": "string",
                    "enum": [
                      "online",
                      "away",
                      "busy",
                      "snooze",
                      "looking_to_play",
                      "looking_to_trade",
                      "invisible",
                      "reconnecting",
                      "offline"
                    ]
                  },
                  "rich": {
                    "type": "object",
                    "description": "rich presence: at most 30 keys of 1-64 characters, values of at most 256; a `connect` key makes the user joinable",
                    "additionalProperties": {
                      "type": "string"
                    }
                  },
                  "updated_at": {
                    "type": [
                      "string",
                      "null"
                    ],
                    "format": "date-time",
                    "description": "null for a user not seen since the presence owner started"
                  }
                }
              },
              "Friend": {
                "type": "object",
                "description": "F: one entry of the caller's list",
                "required": [
                  "user",
                  "state",
                  "presence"
                ],
                "properties": {
                  "user": {
                    "$ref": "#/components/schemas/User"
                  },
                  "state": {
                    "type": "string",
                    "enum": [
                      "friend",
                      "request_sent",
                      "request_received",
                      "blocked"
                    ]
                  },
                  "presence": {
                    "oneOf": [
                      {
                        "$ref": "#/components/schemas/Presence"
                      },
                      {
                        "type": "null"
                      }
                    ],
                    "description": "for friends only"
                  }
                }
              },
              "Friends": {
                "type": "object",
                "required": [
                  "friends"
                ],
                "properties": {
                  "friends": {
                    "type": "array",
                    "items": {
                      "$ref": "#/components/schemas/Friend"
                    }
                  }
                }
              },
              "FriendState": {
                "type": "object",
                "required": [
                  "state"
                ],
                "properties": {
                  "state": {
                    "type": "string",
                    "enum": [
                      "friend",
                      "request_sent",
                      "blocked"
                    ]
                  }
                }
              },
              "Message": {
                "type": "object",
                "description": "M: a direct message; `id` is its position in its conversation",
                "required": [
                  "id",
                  "from",
                  "to",
                  "text",
                  "sent_at"
                ],
                "properties": {
                  "id": {
                    "type": "string"
                  },
                  "from": {
                    "type": "string"
                  },
                  "to": {
                    "type": "string"
                  },
                  "text": {
                    "type": "string"
                  },
                  "sent_at": {
                    "type": "string",
                    "format": "date-time"
                  }
                }
              },
              "MessageEnvelope": {
                "type": "object",
                "required": [
                  "message"
                ],
                "properties": {
                  "message": {
                    "$ref": "#/components/schemas/Message"
                  }
                }
              },
              "Messages": {
                "type": "object",
                "required": [
                  "messages",
                  "next_cursor"
                ],
                "properties": {
                  "messages": {
                    "type": "array",
                    "items": {
                      "$ref": "#/components/schemas/Message"
                    }
                  },
                  "next_cursor": {
                    "type": [
                      "string",
                      "null"
                    ],
                    "description": "the cursor of the next (older) page; null on the last"
                  }
                }
              },
              "SendMessage": {
                "type": "object",
                "required": [
                  "text"
                ],
                "additionalProperties": false,
                "properties": {
                  "text": {
                    "type": "string",
                    "description": "1 to 4096 bytes, not only spaces"
                  }
                }
              },
              "Notification": {
                "type": "object",
                "description": "N: a notification",
                "required": [
                  "id",
                  "kind",
                  "data",
                  "created_at",
                  "read"
                ],
                "properties": {
                  "id": {
                    "type": "string"
                  },
                  "kind": {
                    "type": "string",
                    "enum": [
                      "friend_request",
                      "friend_accepted",
                      "message",
                      "lobby_invite",
                      "system"
                    ]
                  },
                  "data": {
                    "type": "object",
                    "additionalProperties": {
                      "type": "string"
                    }
                  },
                  "created_at": {
                    "type": "string",
                    "format": "date-time"
                  },
                  "read": {
                    "type": "boolean"
                  }
                }
              },
              "Notifications": {
                "type": "object",
                "required": [
                  "notifications",
                  "next_cursor"
                ],
                "properties": {
                  "notifications": {
                    "type": "array",
                    "items": {
                      "$ref": "#/components/schemas/Notification"
                    }
                  },
                  "next_cursor": {
                    "type": [
                      "string",
                      "null"
                    ],
                    "description": "the cursor of the next (older) page; null on the last"
                  }
                }
              },
              "NotificationIds": {
                "type": "object",
                "required": [
                  "ids"
                ],
                "additionalProperties": false,
                "properties": {
                  "ids": {
                    "type": "array",
                    "maxItems": 500,
                    "items": {
                      "oneOf": [
                        {
                          "type": "string",
                          "pattern": "^[0-9]{1,20}$"
                        },
                        {
                          "type": "integer",
                          "minimum": 0
                        }
                      ]
                    }
                  }
                }
              },
              "LobbyMember": {
                "type": "object",
                "required": [
                  "user_id",
                  "data",
                  "ready"
                ],
                "properties": {
                  "user_id": {
                    "type": "string"
                  },
                  "data": {
                    "type": "object",
                    "additionalProperties": {
                      "type": "string"
                    }
                  },
                  "ready": {
                    "type": "boolean"
                  }
                }
              },
              "Lobby": {
                "type": "object",
                "description": "L: a lobby",
                "required": [
                  "id",
                  "type",
                  "owner_id",
                  "max_members",
                  "joinable",
                  "data",
                  "members",
                  "version",
                  "created_at"
                ],
                "properties": {
                  "id": {
                    "type": "string"
                  },
                  "type": {
                    "type": "string",
                    "enum": [
                      "public",
                      "friends_only",
                      "private",
                      "invisible"
                    ]
                  },
                  "owner_id": {
                    "type": "string"
                  },
                  "max_members": {
                    "type": "integer",
                    "minimum": 2,
                    "maximum": 250
                  },
                  "joinable": {
                    "type": "boolean"
                  },
                  "data": {
                    "type": "object",
                    "additionalProperties": {
                      "type": "string"
                    }
                  },
                  "members": {
                    "type": "array",
                    "items": {
                      "$ref": "#/components/schemas/LobbyMember"
                    }
                  },
                  "version": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "grows with every change members see"
                  },
                  "created_at": {
                    "type": "string",
                    "format": "date-time"
                  }
                }
              },
              "LobbyEnvelope": {
                "type": "object",
                "required": [
                  "lobby"
                ],
                "properties": {
                  "lobby": {
                    "$ref": "#/components/schemas/Lobby"
                  }
                }
              },
              "CreateLobby": {
                "type": "object",
                "required": [
                  "type",
                  "max_members"
                ],
                "additionalProperties": false,
                "properties": {
                  "type": {
                    "type": "string",
                    "enum": [
                      "public",
                      "friends_only",
                      "private",
                      "invisible"
                    ]
                  },
                  "max_members": {
                    "type": "integer",
                    "minimum": 2,
                    "maximum": 250
                  },
                  "data": {
                    "type": "object",
                    "additionalProperties": {
                      "type": "string"
                    }
                  },
                  "joinable": {
                    "type": "boolean"
                  }
                }
              },
              "UpdateLobby": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                  "data": {
                    "type": "object",
                    "additionalProperties": {
                      "type": "string"
                    }
                  },
                  "type": {
                    "type": "string",
                    "enum": [
                      "public",
                      "friends_only",
                      "private",
                      "invisible"
                    ]
                  },
                  "joinable": {
                    "type": "boolean"
                  },
                  "max_members": {
                    "type": "integer",
                    "minimum": 2,
                    "maximum": 250
                  }
                }
              },
              "MemberChange": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                  "data": {
                    "type": "object",
                    "additionalProperties": {
                      "type": "string"
                    }
                  },
                  "ready": {
                    "type": "boolean"
                  }
                }
              },
              "UserRef": {
                "type": "object",
                "required": [
                  "user_id"
                ],
                "additionalProperties": false,
                "properties": {
                  "user_id": {
                    "type": "string"
                  }
                }
              },
              "StartLobby": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                  "force": {
                    "type": "boolean",
                    "description": "start even if a member is not ready"
                  }
                }
              },
              "StartedLobby": {
                "type": "object",
                "required": [
                  "lobby",
                  "game_server"
                ],
                "properties": {
                  "lobby": {
                    "$ref": "#/components/schemas/Lobby"
                  },
                  "game_server": {
                    "type": "object",
                    "required": [
                      "address",
                      "token"
                    ],
                    "properties": {
                      "address": {
                        "type": "string",
                        "description": "host:port"
                      },
                      "token": {
                        "type": "string",
                        "description": "base64url JSON {lobby_id, server, players, version}, a dot, base64url HMAC-SHA256 under SHA-256(\"plume game server\" + cluster secret)"
                      }
                    }
                  }
                }
              },
              "LobbySearch": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                  "filters": {
                    "type": "array",
                    "maxItems": 32,
                    "items": {
                      "type": "object",
                      "required": [
                        "key",
                        "op",
                        "value"
                      ],
                      "properties": {
                        "key": {
                          "type": "string"
                        },
                        "op": {
                          "type": "string",
                          "enum": [
                            "eq",
                            "ne",
                            "lt",
                            "le",
                            "gt",
                            "ge"
                          ]
                        },
                        "value": {
                          "type": [
                            "string",
                            "number"
                          ]
                        }
                      }
                    }
                  },
                  "near": {
                    "type": "object",
                    "required": [
                      "key",
                      "value"
                    ],
                    "properties": {
                      "key": {
                        "type": "string"
                      },
                      "value": {
                        "type": "number"
                      }
                    }
                  },
                  "slots_available": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 250
                  },
                  "limit": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 50
                  }
                }
              },
              "LobbySearchResult": {
                "type": "object",
                "required": [
                  "lobbies",
                  "total"
                ],
                "properties": {
                  "lobbies": {
                    "type": "array",
                    "items": {
                      "$ref": "#/components/schemas/Lobby"
                    }
                  },
                  "total": {
                    "type": "integer",
                    "minimum": 0
                  }
                }
              },
              "TicketMatch": {
                "type": "object",
                "required": [
                  "match_id",
                  "lobby_id",
                  "team",
                  "players"
                ],
                "properties": {
                  "match_id": {
                    "type": "string"
                  },
                  "lobby_id": {
                    "type": "string"
                  },
                  "team": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "the caller's team"
                  },
                  "players": {
                    "type": "array",
                    "items": {
                      "type": "string"
                    }
                  }
                }
              },
              "Ticket": {
                "type": "object",
                "description": "T: a matchmaking ticket",
                "required": [
                  "id",
                  "queue",
                  "status",
                  "created_at",
                  "match"
                ],
                "properties": {
                  "id": {
                    "type": "string"
                  },
                  "queue": {
                    "type": "string"
                  },
                  "status": {
                    "type": "string",
                    "enum": [
                      "queued",
                      "matched",
                      "cancelled",
                      "expired"
                    ]
                  },
                  "created_at": {
                    "type": "string",
                    "format": "date-time"
                  },
                  "match": {
                    "oneOf": [
                      {
                        "type": "null"
                      },
                      {
                        "$ref": "#/components/schemas/TicketMatch"
                      }
                    ]
                  }
                }
              },
              "TicketEnvelope": {
                "type": "object",
                "required": [
                  "ticket"
                ],
                "properties": {
                  "ticket": {
                    "$ref": "#/components/schemas/Ticket"
                  }
                }
              },
              "CreateTicket": {
                "type": "object",
                "required": [
                  "queue",
                  "count_min",
                  "count_max"
                ],
                "additionalProperties": false,
                "properties": {
                  "queue": {
                    "type": "string",
                    "pattern": "^[A-Za-z0-9_-]{1,40}$"
                  },
                  "skill": {
                    "type": "number"
                  },
                  "count_min": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 250
                  },
                  "count_max": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 250
                  },
                  "count_multiple": {
                    "type": "integer",
                    "minimum": 1
                  },
                  "teams": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 16
                  },
                  "latency_ms": {
                    "type": "object",
                    "additionalProperties": {
                      "type": "number",
                      "minimum": 0
                    }
                  },
                  "tags": {
                    "type": "array",
                    "maxItems": 16,
                    "items": {
                      "type": "string"
                    }
                  },
                  "party_lobby_id": {
                    "type": "string"
                  },
                  "backfill_lobby_id": {
                    "type": "string"
                  }
                }
              },
              "Queue": {
                "type": "object",
                "required": [
                  "queue",
                  "waiting",
                  "median_wait_ms",
                  "p90_wait_ms"
                ],
                "properties": {
                  "queue": {
                    "type": "string"
                  },
                  "waiting": {
                    "type": "integer",
                    "minimum": 0
                  },
                  "median_wait_ms": {
                    "type": "integer",
                    "minimum": 0
                  },
                  "p90_wait_ms": {
                    "type": "integer",
                    "minimum": 0
                  }
                }
              }
            }
          }
        }
        """#
}
